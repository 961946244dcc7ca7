"""What libraries say while a job runs becomes the build's warnings, named after the file."""

from __future__ import annotations

import logging
import warnings

import pytest

from asset_pipeline.build_scan import library_messages


def test_logs_and_warnings_are_collected_once_each_naming_the_file(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with library_messages("img/a.png") as notes:
        for _ in range(3):
            logging.getLogger("PIL.PngImagePlugin").warning("odd chunk %s", "zTXt")
        logging.getLogger("fontTools.subset").info("progress chatter")
        warnings.warn("Palette images with Transparency", UserWarning, stacklevel=1)
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    assert notes == [
        "img/a.png: odd chunk zTXt (PIL.PngImagePlugin)",
        "img/a.png: Palette images with Transparency (UserWarning)",
    ]
    assert capfd.readouterr() == ("", "")


def test_the_handler_is_removed_when_the_job_fails() -> None:
    handlers = list(logging.getLogger().handlers)
    with pytest.raises(ValueError), library_messages("a.css"):
        raise ValueError("processor failed")
    assert logging.getLogger().handlers == handlers


def test_this_packages_own_warnings_carry_no_logger_name() -> None:
    with library_messages() as notes:
        logging.getLogger("asset_pipeline.service_worker").warning("not precaching %s", "a.js")
    assert notes == ["not precaching a.js"]
