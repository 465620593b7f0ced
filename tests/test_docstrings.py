"""Every public function and class of the library names, on its docstring's last line, the notebooks that use
it (as d2l does), and the list is the true one: a notebook that starts or stops using it must update the line."""
import inspect

from notebook_usage import documented, public_objects, usage


def test_each_docstring_names_the_notebooks_that_use_it():
    used = usage()
    wrong = []
    for name, obj in public_objects().items():
        expected, said = used.get(name, []), documented(inspect.unwrap(obj))
        if said != expected:
            wrong.append(f"{name}: the notebooks use it in {expected or 'none'}, its docstring says {said or 'none'}"
                         + (f"; end its docstring with the line 'Notebooks: {', '.join(expected)}'" if expected else ""))
    assert not wrong, "\n".join(wrong)


def test_the_usage_reader_sees_imports_and_aliases():
    used = usage()
    assert "II.1" in used["attnlab.baselines.ridge"]  # `from attnlab import baselines as bl`, then bl.ridge
    assert used["attnlab.patching.patch"] == ["I.4"]  # `from attnlab import patching`, then patching.patch
    assert "I.1" in used["attnlab.depth.run.models_by_depth"]  # re-exported by attnlab.depth
