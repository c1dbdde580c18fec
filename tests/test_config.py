"""Tests for node.config: loading and validating node.toml, rendering it back, and overriding settings."""

import tomllib
from pathlib import Path

import pytest

from node.config import (
    CONFIG_FILENAME,
    DEFAULT_HOST,
    DEFAULT_PORT,
    ConfigError,
    MailConfig,
    NodeConfig,
    NotificationsConfig,
    from_mapping,
    is_ip_literal,
    load,
    render_toml,
    write_new,
)

GOOD_TOML = """\
[node]
domain = "Larder.Coop.Example."
scheme = "https"
dev = false
name = "Preston co-ops"
description = "Co-operatives of Preston"

[serve]
host = "0.0.0.0"
port = 8443
"""


def write_toml(data_dir: Path, text: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CONFIG_FILENAME
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> NodeConfig:
    write_toml(tmp_path / "node", text)
    return load(tmp_path / "node")


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    return str(caught.value)


# Loading a good file


def test_load_reads_every_setting_and_normalises_the_domain(tmp_path):
    config = load_text(tmp_path, GOOD_TOML)
    assert config == NodeConfig(
        data_dir=tmp_path / "node", domain="larder.coop.example", scheme="https", dev=False,
        listen_host="0.0.0.0", listen_port=8443, node_name="Preston co-ops",
        node_description="Co-operatives of Preston",
    )
    assert config.base_url == "https://larder.coop.example"
    assert config.database_path.parent == tmp_path / "node"


def test_load_fills_defaults_when_only_the_domain_is_given(tmp_path):
    config = load_text(tmp_path, '[node]\ndomain = "coop.example"\n')
    assert (config.scheme, config.dev, config.listen_host, config.listen_port) == ("https", False, DEFAULT_HOST,
                                                                                 DEFAULT_PORT)
    assert (config.node_name, config.node_description) == ("", "")


# Files that cannot be loaded


def test_missing_data_directory_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError) as caught:
        load(missing)
    assert "data directory" in str(caught.value)
    assert str(missing) in str(caught.value)


def test_missing_node_toml_is_named(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert str(tmp_path / CONFIG_FILENAME) in str(caught.value)
    assert "missing" in str(caught.value)


def test_invalid_toml_is_reported_with_its_path(tmp_path):
    message = config_error(tmp_path, '[node]\ndomain = "coop.example\n')
    assert "not valid TOML" in message
    assert CONFIG_FILENAME in message


def test_non_utf8_file_is_reported_as_invalid_toml(tmp_path):
    data_dir = tmp_path / "node"
    data_dir.mkdir()
    (data_dir / CONFIG_FILENAME).write_bytes(b'[node]\ndomain = "caf\xe9.example"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(data_dir)


# Unknown and mistyped settings


def test_unknown_section_is_named(tmp_path):
    message = config_error(tmp_path, '[node]\ndomain = "coop.example"\n[relays]\nrelay = "x"\n')
    assert "unknown section [relays]" in message


def test_federation_settings(tmp_path):
    message = config_error(tmp_path, '[node]\ndomain = "coop.example"\n[federation]\nmode = "closed"\n')
    assert "federation mode" in message and "allowlist" in message


def test_unknown_key_is_named_with_its_section(tmp_path):
    message = config_error(tmp_path, '[node]\ndomain = "coop.example"\n[serve]\nprot = 8080\n')
    assert "[serve]" in message
    assert "prot" in message


def test_section_that_is_not_a_table_is_refused(tmp_path):
    message = config_error(tmp_path, 'node = "coop.example"\n')
    assert "[node] must be a table" in message


@pytest.mark.parametrize("section, setting, key", [
    ("serve", "port = true", "port"),
    ("serve", 'port = "8080"', "port"),
    ("serve", "port = 8080.0", "port"),
    ("serve", "host = 127", "host"),
    ("node", 'dev = "yes"', "dev"),
    ("node", "dev = 1", "dev"),
    ("node", "name = 42", "name"),
    ("node", "scheme = ['https']", "scheme"),
])
def test_wrong_types_name_the_key(tmp_path, section, setting, key):
    node = '[node]\ndomain = "coop.example"\n'
    text = node + setting + "\n" if section == "node" else node + f"[serve]\n{setting}\n"
    message = config_error(tmp_path, text)
    assert f"{key} must be a" in message


def test_port_true_is_not_taken_for_port_one(tmp_path):
    message = config_error(tmp_path, '[node]\ndomain = "coop.example"\n[serve]\nport = true\n')
    assert "port must be a" in message
    assert "True" in message


def test_domain_of_the_wrong_type_is_refused(tmp_path):
    message = config_error(tmp_path, "[node]\ndomain = 42\n")
    assert "domain must be a string in quotes" in message


# Domain, scheme and port validation


def test_missing_domain_is_named(tmp_path):
    message = config_error(tmp_path, '[node]\nname = "Co-ops"\n')
    assert "domain is missing" in message


@pytest.mark.parametrize("domain", ["https://coop.example", "coop example", "coop.example/path", "-coop.example",
                                    "coop_example.org", "", "coop..example", "[not-ipv6]"])
def test_bad_domain_is_refused_with_the_domain_in_the_message(tmp_path, domain):
    message = config_error(tmp_path, f'[node]\ndomain = "{domain}"\n')
    assert "is not a host name" in message
    assert repr(domain) in message


@pytest.mark.parametrize("domain, port", [("coop.example:0", "0"), ("coop.example:65536", "65536"),
                                          ("localhost:99999", "99999")])
def test_impossible_port_in_the_domain_is_refused(tmp_path, domain, port):
    message = config_error(tmp_path, f'[node]\ndomain = "{domain}"\n')
    assert f"impossible port {port}" in message


@pytest.mark.parametrize("port", [65536, -1, 100000])
def test_listen_port_out_of_range_is_refused(tmp_path, port):
    message = config_error(tmp_path, f'[node]\ndomain = "coop.example"\n[serve]\nport = {port}\n')
    assert f"port {port} is outside 0-65535" in message


def test_plain_http_needs_dev(tmp_path):
    message = config_error(tmp_path, '[node]\ndomain = "coop.example"\nscheme = "http"\n')
    assert "dev = true" in message


def test_plain_http_is_allowed_with_dev(tmp_path):
    config = load_text(tmp_path, '[node]\ndomain = "localhost:8080"\nscheme = "http"\ndev = true\n')
    assert config.base_url == "http://localhost:8080"


def test_unknown_scheme_is_refused(tmp_path):
    message = config_error(tmp_path, '[node]\ndomain = "coop.example"\nscheme = "gopher"\n')
    assert "scheme must be https or http" in message


@pytest.mark.parametrize("domain", ["localhost:8443", "coop.example:443", "127.0.0.1:8080", "[::1]", "[::1]:8443",
                                    "[2001:db8::1]:65535", "xn--caf-dma.example"])
def test_domains_with_ports_and_ip_literals_are_accepted(tmp_path, domain):
    config = load_text(tmp_path, f'[node]\ndomain = "{domain}"\n')
    assert config.domain == domain
    assert config.base_url == f"https://{domain}"


@pytest.mark.parametrize("domain", ["[1:2]", "[:::::]", "[...]"])
def test_bracketed_domain_must_be_a_real_ipv6_address(tmp_path, domain):
    with pytest.raises(ConfigError):
        load_text(tmp_path, f'[node]\ndomain = "{domain}"\n')


def test_is_ip_literal():
    assert is_ip_literal("[::1]")
    assert is_ip_literal("192.0.2.7")
    assert not is_ip_literal("coop.example")


# [notifications] and [mail]


def test_notifications_and_mail_default_to_a_threshold_and_no_mail(tmp_path):
    config = load_text(tmp_path, '[node]\ndomain = "coop.example"\n')
    assert config.notifications == NotificationsConfig(min_score=0.6)
    assert config.mail == MailConfig() and not config.mail.enabled


def test_mail_settings_are_read(tmp_path):
    config = load_text(tmp_path, '[node]\ndomain = "coop.example"\n[notifications]\nmin_score = 1\n'
                                 '[mail]\nhost = "smtp.coop.example"\nport = 25\nfrom = "commons@coop.example"\n'
                                 'starttls = true\nusername = "commons"\npassword = "secret"\n')
    assert config.notifications.min_score == 1.0
    assert config.mail == MailConfig(host="smtp.coop.example", port=25, sender="commons@coop.example",
                                     starttls=True, username="commons", password="secret")
    assert config.mail.enabled


@pytest.mark.parametrize(("settings", "complaint"), [
    ("[notifications]\nmin_score = 1.5", "[notifications] min_score must be between 0 and 1, not 1.5"),
    ("[notifications]\nmin_score = \"high\"", "min_score must be a number"),
    ("[notifications]\nevery = 5", "unknown setting(s) in [notifications]: every"),
    ('[mail]\nfrom = "commons@coop.example"', "[mail] has settings but no host"),
    ('[mail]\nhost = "smtp coop"\nfrom = "a@coop.example"', "[mail] host 'smtp coop' is not a host name"),
    ('[mail]\nhost = "smtp.coop.example"\nport = 0\nfrom = "a@coop.example"', "[mail] port 0 is outside 1-65535"),
    ('[mail]\nhost = "smtp.coop.example"', "[mail] from '' is not an e-mail address"),
    ('[mail]\nhost = "smtp.coop.example"\nfrom = "commons"', "[mail] from 'commons' is not an e-mail address"),
    ('[mail]\nhost = "smtp.coop.example"\nfrom = "a@coop.example"\nusername = "a"',
     "[mail] username and password go together"),
    ('[mail]\nhost = "smtp.coop.example"\nfrom = "a@coop.example"\nstarttls = false\nusername = "a"\n'
     'password = "b"', "[mail] would send the password to smtp.coop.example unencrypted: set starttls = true"),
    ('[mail]\nhost = "smtp.coop.example"\nfrom = "a@coop.example"\nstarttls = "yes"', "starttls must be a bool"),
    ('[mail]\nhost = "smtp.coop.example"\nfrom = "a@coop.example"\ntls = true', "unknown setting(s) in [mail]: tls"),
])
def test_bad_notification_and_mail_settings_say_what_to_do(tmp_path, settings, complaint):
    assert complaint in config_error(tmp_path, f'[node]\ndomain = "coop.example"\n{settings}\n')


def test_a_password_may_go_unencrypted_to_a_server_on_this_machine(tmp_path):
    config = load_text(tmp_path, '[node]\ndomain = "coop.example"\n[mail]\nhost = "127.0.0.1"\nport = 25\n'
                                 'from = "a@coop.example"\nstarttls = false\nusername = "a"\npassword = "b"\n')
    assert config.mail.username == "a" and not config.mail.starttls


# Rendering, writing and overriding


def sample_config(data_dir: Path, **changes) -> NodeConfig:
    fields = dict(data_dir=data_dir, domain="larder.coop.example", scheme="https", dev=False,
                  listen_host="0.0.0.0", listen_port=9000, node_name='The "Preston" Larder \\ Co-ops',
                  node_description="Food, teaching & feeding Preston — since 2015")
    fields.update(changes)
    return NodeConfig(**fields)


@pytest.mark.parametrize("changes", [
    {}, {"scheme": "http", "dev": True, "domain": "[::1]:8443"},
    {"notifications": NotificationsConfig(min_score=0.75),
     "mail": MailConfig(host="smtp.coop.example", port=465, sender="commons@coop.example", starttls=True,
                        username="commons", password='pa"ss\\word')},
])
def test_render_toml_round_trips(tmp_path, changes):
    config = sample_config(tmp_path, **changes)
    assert from_mapping(tomllib.loads(render_toml(config)), tmp_path) == config


def test_render_toml_round_trips_a_multi_line_description(tmp_path):
    config = sample_config(tmp_path, node_description="Co-operatives of Preston.\nFood, housing and energy.")
    assert from_mapping(tomllib.loads(render_toml(config)), tmp_path) == config


def test_write_new_writes_a_loadable_file(tmp_path):
    config = sample_config(tmp_path / "new" / "node")
    path = write_new(config)
    assert path == tmp_path / "new" / "node" / CONFIG_FILENAME
    assert load(config.data_dir) == config


def test_write_new_refuses_to_overwrite(tmp_path):
    config = sample_config(tmp_path)
    path = write_new(config)
    before = path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="already exists"):
        write_new(sample_config(tmp_path, domain="other.example"))
    assert path.read_text(encoding="utf-8") == before


def test_write_new_validates_before_writing(tmp_path):
    with pytest.raises(ConfigError, match="dev = true"):
        write_new(sample_config(tmp_path / "node", scheme="http"))
    assert not (tmp_path / "node" / CONFIG_FILENAME).exists()


def test_with_overrides_ignores_none_and_applies_the_rest(tmp_path):
    config = sample_config(tmp_path)
    changed = config.with_overrides(listen_host=None, listen_port=8081, dev=None)
    assert changed == sample_config(tmp_path, listen_port=8081)
    assert config.listen_port == 9000


def test_with_overrides_applies_false(tmp_path):
    config = sample_config(tmp_path, dev=True)
    assert config.with_overrides(dev=False).dev is False


@pytest.mark.parametrize("changes, complaint", [
    ({"scheme": "http"}, "dev = true"),
    ({"listen_port": 70000}, "outside 0-65535"),
    ({"domain": "not a domain"}, "not a host name"),
])
def test_with_overrides_validates(tmp_path, changes, complaint):
    with pytest.raises(ConfigError, match=complaint):
        sample_config(tmp_path).with_overrides(**changes)
