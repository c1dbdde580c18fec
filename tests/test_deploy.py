"""The deploy files stay true to the code: the example config loads, the image copies every package, and an
install carries every data file."""

import re
import tomllib
from pathlib import Path

from node.config import from_mapping

REPOSITORY = Path(__file__).resolve().parents[1]
DEPLOY = REPOSITORY / "deploy"


def test_example_config_is_valid_and_complete():
    raw = tomllib.loads((DEPLOY / "node.example.toml").read_text())
    config = from_mapping(raw, Path("data"))
    assert config.domain == "coop.example" and config.scheme == "https" and not config.dev
    assert set(raw["node"]) == {"domain", "scheme", "dev", "name", "description"}
    assert set(raw["serve"]) == {"host", "port"}
    assert set(raw["federation"]) == {"mode", "authorized_fetch"}


def test_image_copies_every_package_the_project_installs():
    found = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = [name for name in found["include"] if "." not in name]  # each with its subpackages
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.MULTILINE))
    assert copied == set(packages)


def test_every_data_file_of_a_package_is_installed():
    """A non-editable install (the quick start's `pip install .`) carries only what package-data names."""
    setuptools = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package in setuptools["packages"]:
        patterns = setuptools["package-data"].get(package, [])
        data_files = [path.relative_to(REPOSITORY / package) for path in (REPOSITORY / package).rglob("*")
                      if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts]
        missed = [str(path) for path in data_files if not any(path.match(pattern) for pattern in patterns)]
        assert missed == [], f"{package}: not in package-data: {missed}"


def test_proxies_keep_the_host_header_and_cap_bodies():
    nginx = (DEPLOY / "nginx.conf.example").read_text()
    assert "proxy_set_header Host $host;" in nginx and "client_max_body_size 1m;" in nginx
    assert "max_size 1MB" in (DEPLOY / "Caddyfile").read_text()
