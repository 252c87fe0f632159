from __future__ import annotations

import pydantic
import pytest

from jumpup.settings import DEFAULT_PARAMS_PATH, SettingsError, load_settings


def test_project_params_load_into_frozen_settings():
    settings = load_settings()
    assert settings.synth.firms > 0
    with pytest.raises(pydantic.ValidationError):
        settings.synth.firms = 5  # frozen


def test_unknown_top_level_key_is_named(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(DEFAULT_PARAMS_PATH.read_text() + "\nsede: 3\n")
    with pytest.raises(SettingsError, match="unknown key 'sede'"):
        load_settings(path)


def test_unknown_nested_key_is_named_with_its_section(tmp_path):
    path = tmp_path / "params.yaml"
    text = DEFAULT_PARAMS_PATH.read_text().replace("  balance_tolerance: 0.05", "  balance_tolerence: 0.05")
    path.write_text(text)
    with pytest.raises(SettingsError, match=r"unknown key 'ingest\.balance_tolerence'"):
        load_settings(path)


def test_wrong_type_names_key_and_value(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(DEFAULT_PARAMS_PATH.read_text().replace("  firms: 4000", "  firms: many"))
    with pytest.raises(SettingsError, match=r"key 'synth\.firms'.*'many'"):
        load_settings(path)


def test_out_of_range_value_is_rejected(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(DEFAULT_PARAMS_PATH.read_text().replace("balance_tolerance: 0.05", "balance_tolerance: 3"))
    with pytest.raises(SettingsError, match="balance_tolerance"):
        load_settings(path)


def test_overrides_merge_into_nested_sections():
    settings = load_settings(overrides={"synth": {"firms": 7}})
    assert settings.synth.firms == 7
    assert settings.synth.applicants == load_settings().synth.applicants


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


def test_an_install_outside_a_checkout_says_that_jumpup_runs_from_its_repository(tmp_path, monkeypatch):
    """A wheel installed into site-packages has no params.yaml or data/reference/ beside it."""
    import jumpup.settings

    monkeypatch.setattr(jumpup.settings, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(jumpup.settings, "DEFAULT_PARAMS_PATH", tmp_path / "params.yaml")
    with pytest.raises(SettingsError) as caught:
        jumpup.settings.load_settings()
    message = str(caught.value)
    assert "\n" not in message and "checkout of its repository" in message and "pip install -e ." in message
    # The reference tables say the same (commands that read no settings, e.g. `jumpup import dart-bulk`).
    import jumpup.reference

    monkeypatch.setattr(jumpup.reference, "REFERENCE_DIR", tmp_path / "data" / "reference")
    with pytest.raises(jumpup.reference.ReferenceTableError) as caught:
        jumpup.reference.load_catalog(tmp_path / "data" / "reference")
    assert "checkout of its repository" in str(caught.value) and isinstance(caught.value, ValueError)
    (tmp_path / "data" / "reference").mkdir(parents=True)  # a checkout that lost its params.yaml
    with pytest.raises(SettingsError, match=r"settings file not found$"):
        jumpup.settings.load_settings()
    with pytest.raises(
        jumpup.reference.ReferenceTableError, match=r"catalog.yaml: not found; reference catalog missing$"
    ):
        jumpup.reference.load_catalog(tmp_path / "data" / "reference")


def test_notices_are_english_strings_carrying_their_korean_wording():
    import json
    import pickle

    from jumpup.notices import Notice, in_language

    notice = Notice("3 input row(s) quarantined", "입력 행 3건이 격리되었습니다")
    assert notice == "3 input row(s) quarantined" and "quarantined" in notice
    assert json.loads(json.dumps([notice])) == ["3 input row(s) quarantined"]
    assert pickle.loads(pickle.dumps(notice)).ko == notice.ko
    assert in_language([notice, "plain"], "ko") == ["입력 행 3건이 격리되었습니다", "plain"]
    assert in_language([notice], "en") == ["3 input row(s) quarantined"]


def test_a_settings_file_that_is_not_yaml_is_one_line_naming_where(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 7\nsynth: [\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f"{path}: not valid YAML at line 3, column 1: expected the node content, but found '<stream end>'"
    )


def test_a_settings_file_that_is_not_utf8_or_not_a_file_is_one_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes("seed: 7  # 시드\n".encode("cp949"))
    with pytest.raises(
        SettingsError, match=r"params\.yaml: not UTF-8 text \(byte \d+\); save the settings file as UTF-8$"
    ):
        load_settings(path)
    with pytest.raises(SettingsError, match=r": cannot read the settings file \(Is a directory\)$"):
        load_settings(tmp_path)
