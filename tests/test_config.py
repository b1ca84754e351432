"""Settings: every value range-checked wherever it comes from (archiver.toml, the environment,
flags, or code), with a message that names the source and the setting."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from archiver.config import LIMITS, Settings, load_settings
from archiver.errors import ConfigError


@pytest.mark.parametrize(
    "line, words",
    [
        ("max_hosts = 0", "max_hosts: must be at least 1, got 0"),
        ("deadline = inf", "deadline: must be a finite number, got inf"),
        ("connect_timeout = nan", "connect_timeout: must be a finite number"),
        ("host_delay = -1.5", "host_delay: must not be negative, got -1.5"),
        ("backoff_base = -1", "backoff_base: must not be negative"),
        ("url_budget = 0", "url_budget: must be at least"),
        ("extract_timeout = -3", "extract_timeout: must be at least"),
        ("retries = 1000", "retries: must be at most 20"),
        ("max_body_bytes = 10", "max_body_bytes: must be at least 1024"),
        ("host_concurrency = 0", "host_concurrency: must be at least 1"),
        ('user_agent = "bot\\r\\nX-Injected: 1"', "user_agent: must be one line"),
    ],
)
def test_out_of_range_values_in_archiver_toml_are_clear_errors(tmp_path: Path, line: str, words: str) -> None:
    config = tmp_path / "archiver.toml"
    config.write_text(f"[archiver]\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config, env={})
    assert str(config) in str(info.value) and words in str(info.value)


def test_environment_and_flags_are_checked_and_named() -> None:
    with pytest.raises(ConfigError, match="ARCHIVER_MAX_HOSTS: must be at least 1"):
        load_settings(None, env={"ARCHIVER_MAX_HOSTS": "0"})
    with pytest.raises(ConfigError, match=r"max_duration \(from the command line\): must be a finite number"):
        load_settings(None, env={}, max_duration=math.inf)


def test_settings_made_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="deadline: must be a finite number"):
        Settings(deadline=math.inf)
    with pytest.raises(ConfigError, match="max_hosts"):
        Settings().with_overrides(max_hosts=0)


def test_every_default_is_in_range_and_every_limit_names_a_setting() -> None:
    defaults = Settings()
    assert set(LIMITS) <= set(vars(defaults))
    for name, (low, high) in LIMITS.items():
        value = getattr(defaults, name)
        assert low is None or value >= low, name
        assert high is None or value <= high, name
    assert defaults.url_budget <= 90 and defaults.extract_timeout > 0


def test_site_files_are_found_from_the_flag_the_variable_the_working_directory_or_the_package(tmp_path: Path) -> None:
    from archiver.config import BUNDLED_SITES, sites_dir

    flag, variable, here = tmp_path / "flag", tmp_path / "variable", tmp_path / "here"
    for folder in (flag, variable, here / "selectors"):
        folder.mkdir(parents=True)
    env = {"ARCHIVER_SITES": str(variable)}
    assert sites_dir(flag, env, cwd=here) == flag
    assert sites_dir(None, env, cwd=here) == variable
    assert sites_dir(None, {}, cwd=here) == here / "selectors"
    assert sites_dir(None, {}, cwd=tmp_path) == BUNDLED_SITES  # nothing else: the installed examples
    assert sorted(p.name for p in BUNDLED_SITES.glob("*.toml")) == sorted(
        p.name for p in (Path(__file__).resolve().parents[1] / "selectors").glob("*.toml"))
    with pytest.raises(ConfigError, match="--sites .*missing: site files directory not found"):
        sites_dir(tmp_path / "missing", env, cwd=here)
    with pytest.raises(ConfigError, match="ARCHIVER_SITES .*gone: site files directory not found"):
        sites_dir(None, {"ARCHIVER_SITES": str(tmp_path / "gone")}, cwd=here)


def test_the_help_says_where_site_files_are_looked_for() -> None:
    from click.testing import CliRunner

    from archiver.cli import main

    out = CliRunner().invoke(main, ["crawl", "--help"], terminal_width=200).output
    assert "$ARCHIVER_SITES, else ./selectors in the working directory, else the examples installed" in " ".join(out.split())
