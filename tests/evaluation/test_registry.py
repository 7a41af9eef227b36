"""The evaluator registry: a worker is refused for how it was started (forked after TensorFlow), never for
what its main module imports."""
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

# A user's script as the README invites it: Keras imported at the top, so every spawned worker, which
# re-imports the main module, has TensorFlow loaded before its initializer runs. argv[1] names the pool.
SCRIPT = '''
import json
import sys

import keras
import numpy as np

import evoprune


def make_pool(kind, problem):
    prepare = {"initializer": evoprune.init_worker, "initargs": (problem,)}
    if kind == "ray":
        import ray
        from ray.util.multiprocessing import Pool

        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
        return Pool(1, **prepare)
    library, method = kind.split("-")
    return __import__(library).get_context(method).Pool(1, **prepare)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    problem = evoprune.Problem(model, rng.random((20, 4), np.float32), rng.integers(0, 3, 20))
    toolbox = problem.toolbox(seed=0)
    population = toolbox.population(n=2)
    with make_pool(sys.argv[1], problem) as pool:
        in_pool = pool.map(toolbox.evaluate, population)
    print(json.dumps({"pool": in_pool, "here": [toolbox.evaluate(ind) for ind in population]}))
'''


def run_script(tmp_path, pool: str) -> subprocess.CompletedProcess:
    script = tmp_path / "user_script.py"
    script.write_text(SCRIPT)
    return subprocess.run([sys.executable, str(script), pool], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)


@pytest.mark.parametrize("pool", ["multiprocess-spawn", "multiprocessing-spawn", "ray"])
def test_a_spawned_pool_evaluates_when_the_main_module_imports_keras_at_the_top(tmp_path, pool):
    if pool == "ray":
        pytest.importorskip("ray")
    out = run_script(tmp_path, pool)
    assert out.returncode == 0, out.stderr[-3000:]
    fitness = json.loads(out.stdout.splitlines()[-1])
    assert len(fitness["pool"]) == 2 and fitness["pool"] == fitness["here"]


def test_a_pool_forked_after_tensorflow_is_still_refused(tmp_path):
    out = run_script(tmp_path, "multiprocess-fork")
    assert out.returncode != 0
    assert "NoEvaluatorError: worker" in out.stderr and "forked after TensorFlow was loaded" in out.stderr
