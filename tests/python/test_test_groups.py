"""`make test` runs two xdist workers with --dist loadgroup, and conftest.py
puts each test file in one group so its session fixtures (whole dbt builds)
are made once, by one worker. When grouping fails, nothing else fails: every
group is just split over both workers, which then make each build twice."""

import pytest


def test_this_file_runs_as_one_group(request):
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("grouping applies only under `pytest -n N --dist loadgroup` (make test)")
    # xdist tags a grouped test's id with its group; the scheduler reads the tag
    assert request.node.nodeid.endswith("@test_test_groups"), request.node.nodeid
