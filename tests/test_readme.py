"""The README's quick start runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no python block"
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["search"].best_params_["gmje__n_components"] >= 3
    assert namespace["model"].sample(namespace["X"][:5], n_samples=100).shape == (5, 100)


def test_readme_opens_with_the_demo_and_test_commands():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    assert "python -m skgmje demo" in first_block
    assert "python -m pytest" in first_block
