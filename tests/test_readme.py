"""The README's DEAP example runs as written: pasted into a file and run as a script, with a spawned pool."""
import ast
import os
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

SECTION = "### Python API: DEAP's own algorithms on evoprune's toolbox"


def readme_block(heading: str) -> str:
    """The first Python block under `heading` in README.md."""
    section = (REPO / "README.md").read_text().split(heading + "\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_deap_example_runs_as_a_script_even_with_keras_imported_at_its_top(tmp_path, mnist_path):
    # Keras at the top: every spawned worker loads TensorFlow as it imports the script again.
    script = tmp_path / "deap_example.py"
    script.write_text("import keras\n" + readme_block(SECTION))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "EVOPRUNE_DATA": mnist_path})
    assert out.returncode == 0, out.stderr[-3000:]
    report = ast.literal_eval(out.stdout.splitlines()[-1])
    assert 0 < report["sparsity_global"] < 1 and 0 < report["test_accuracy"] <= 1
