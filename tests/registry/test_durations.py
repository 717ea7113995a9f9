"""Durations: Go-style text or a number of seconds, everywhere one is accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, ValidationError

from api.v1.tokens import TokenIn
from registry.durations import Duration, duration_text, parse_duration
from registry.tasks.errors import InvalidParams
from registry.tasks.kinds import validate_params


class Holder(BaseModel):
    wait: Duration | None = None
    every: Duration = timedelta(hours=1)


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        ("90s", 90),
        ("1h30m", 5400),
        ("0", 0),
        ("3600", 3600),
        (" 1.5 ", 1.5),
        ("250ms", 0.25),
        (0, 0),
        (3600, 3600),
        (0.5, 0.5),
    ],
)
def test_text_and_numbers_of_seconds_parse(given: str | float, seconds: float) -> None:
    assert parse_duration(given) == timedelta(seconds=seconds)


@pytest.mark.parametrize("given", ["-5s", "-1", -1, -0.5])
def test_negative_durations_are_refused_as_negative(given: str | float) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        parse_duration(given)


@pytest.mark.parametrize("given", ["soon", "", "1x", "1h-", True, None, float("nan"), [60]])
def test_anything_else_is_refused_with_the_forms_expected(given: object) -> None:
    with pytest.raises(ValueError, match="invalid duration .* number of seconds"):
        parse_duration(given)  # type: ignore[arg-type]


def test_numbers_and_text_are_parsed_once_and_shown_as_text() -> None:
    shown = [
        Holder.model_validate({"wait": v}).model_dump(mode="json")["wait"]
        for v in (0, 3600, 1.5, 2.0, "1h", "3600")
    ]
    assert shown == ["0s", "1h", "1.5s", "2s", "1h", "1h"]
    assert Holder.model_validate({"wait": 0}).model_dump(mode="json") == {
        "wait": "0s",
        "every": "1h",
    }
    assert Holder.model_validate({"wait": "1h"}).wait == timedelta(hours=1)


def test_a_model_field_names_itself_when_refusing_a_negative_duration() -> None:
    with pytest.raises(ValidationError) as refused:
        Holder.model_validate({"wait": -3})
    (error,) = refused.value.errors()
    assert error["loc"] == ("wait",) and "must not be negative, got -3" in error["msg"]


@pytest.mark.parametrize(
    ("kind", "params", "stored"),
    [
        ("gc", {"grace_period": 0}, {"grace_period": "0s"}),
        ("gc", {"grace_period": 3600}, {"grace_period": "1h"}),
        ("gc", {"grace_period": "90s"}, {"grace_period": "90s"}),
        ("usage", {"grace_period": 90}, {"grace_period": "90s"}),
        ("purge_uploads", {"age": 86400}, {"age": "24h"}),
        ("verify_storage", {"since": 3600}, {"since": "1h"}),
        ("reconfigure", {"wait_timeout": "90s"}, {"wait_timeout": "90s"}),
        ("reconfigure", {"wait_timeout": 60.0}, {"wait_timeout": "1m"}),
    ],
)
def test_task_params_take_integer_seconds(
    kind: str, params: dict[str, object], stored: dict[str, object]
) -> None:
    assert validate_params(kind, params) == stored


def test_a_zero_duration_in_task_params_is_zero_not_the_default() -> None:
    from registry.config.docker_registry import GCSettings, UploadPurgingSettings
    from registry.maintenance import purge_uploads, usage
    from registry.maintenance.gc import collect as gc
    from registry.tasks.params import GCParams, PurgeUploadsParams, UsageParams

    defaults = GCSettings(grace_period=timedelta(hours=1))
    zero, unset = {"grace_period": "0s"}, {}
    assert gc.options_from_params(GCParams.model_validate(zero), defaults).grace_period == (
        timedelta(0)
    )
    assert gc.options_from_params(GCParams.model_validate(unset), defaults).grace_period == (
        timedelta(hours=1)
    )
    usage_zero = usage.options_from_params(UsageParams.model_validate(zero), defaults)
    assert usage_zero.grace_period == timedelta(0)
    usage_unset = usage.options_from_params(UsageParams.model_validate(unset), defaults)
    assert usage_unset.grace_period == timedelta(hours=1)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    purge = purge_uploads.PurgeOptions.from_params
    at_once = purge(PurgeUploadsParams(age=timedelta(0)), UploadPurgingSettings(), now)
    assert at_once.older_than == now


def test_a_negative_task_duration_is_refused_naming_the_param() -> None:
    with pytest.raises(InvalidParams, match=r"^params\.grace_period: a duration must not be neg"):
        validate_params("gc", {"grace_period": -60})


def test_a_token_s_lifetime_takes_seconds_and_must_be_positive() -> None:
    held = TokenIn.model_validate({"name": "ci", "expires_in": 86400})
    assert held.expires_in == timedelta(days=1)
    assert held.model_dump(mode="json")["expires_in"] == "24h"
    with pytest.raises(ValidationError, match="must be a positive duration"):
        TokenIn.model_validate({"name": "ci", "expires_in": 0})


@pytest.mark.parametrize(
    "text", ["0s", "90s", "1h", "168h", "720h", "30s", "10m", "12h", "250ms", "1.5s"]
)
def test_a_duration_field_holds_a_timedelta_and_shows_the_text_it_was_given(text: str) -> None:
    held = Holder.model_validate({"wait": text})
    assert held.wait == parse_duration(text)
    assert held.model_dump(mode="json")["wait"] == text
    assert Holder.model_validate(held.model_dump(mode="json")) == held  # stored and read back


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (0, "0s"),
        (45, "45s"),
        (90, "90s"),
        (3600, "1h"),
        (86400, "24h"),
        (0.5, "500ms"),
        ("3600", "1h"),
        ("1h30m", "90m"),
        ("60s", "1m"),
        ("2d", "48h"),
        (1.25, "1.25s"),
    ],
)
def test_seconds_and_other_spellings_are_shown_in_the_largest_whole_unit(
    given: str | float, shown: str
) -> None:
    assert Holder.model_validate({"wait": given}).model_dump(mode="json")["wait"] == shown


def test_a_duration_field_defaults_to_a_timedelta_and_keeps_one_given_as_one() -> None:
    assert Holder().every == timedelta(hours=1)
    assert Holder().model_dump(mode="json") == {"wait": None, "every": "1h"}
    assert Holder().model_dump()["every"] == timedelta(hours=1)  # python mode: the timedelta
    assert Holder(wait=timedelta(minutes=5)).wait == timedelta(minutes=5)
    assert duration_text(timedelta(microseconds=500)) == "0.0005s"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (-3, "must not be negative, got -3"),
        ("-5s", "must not be negative, got '-5s'"),
        (timedelta(seconds=-5), "must not be negative, got '-5s'"),
        ("soon", "invalid duration 'soon'"),
        (True, "invalid duration True"),
        (float("nan"), "invalid duration nan"),
        (float("inf"), "invalid duration inf"),
        ("99999999999d", "duration '99999999999d' is too long"),
    ],
)
def test_a_duration_field_refuses_what_parse_duration_refuses_naming_itself(
    given: object, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Holder.model_validate({"wait": given})
    (error,) = refused.value.errors()
    assert error["loc"] == ("wait",) and message in error["msg"]


def test_the_json_schema_of_a_duration_takes_text_or_seconds() -> None:
    schema = Holder.model_json_schema()["properties"]["every"]
    assert {"type": "string", "examples": ["90s", "1h30m"]} in schema["anyOf"]
    assert {"type": "number"} in schema["anyOf"]
    assert schema["default"] == "1h"  # as the field shows it, not ISO 8601 ("PT1H")
