import dlcore
from dlcore.examples import demo


def test_demo_learns_spirals():
    # The interim main job must learn the problem, not just run: chance is 0.5.
    assert demo.main() > 0.75


def test_config_reports_build():
    cfg = dlcore.config()
    assert cfg["isa"] in cfg["supported_isas"]
    assert cfg["num_threads"] >= 1
    assert cfg["cuda_available"] is False or cfg["cuda_built"] is True
