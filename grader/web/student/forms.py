"""The submission form: upload a ``.py`` file or a Jupyter notebook (``.ipynb``), or paste the code."""

from __future__ import annotations

import unicodedata

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SubmitField, TextAreaField
from wtforms.validators import Length

DEFAULT_FILENAME = "submission.py"
#: What a submitted file's name may end in: Python source or a Jupyter notebook.
SUBMISSION_SUFFIXES = (".py", ".ipynb")
MAX_SOURCE_CHARS = 256 * 1024


def clean_filename(raw: str | None) -> str:
    """The last path component of an uploaded file's name, without control characters, at most 255 long."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if len(name) > 255:
        suffix = ".ipynb" if name.lower().endswith(".ipynb") else ".py"
        name = name[: 255 - len(suffix)] + suffix
    return name


class SubmitForm(FlaskForm):
    """One of: an uploaded ``.py`` file or notebook, or code pasted into the text area."""

    file = FileField(
        "Upload your .py file or Jupyter notebook (.ipynb)",
        render_kw={"accept": ".py,.ipynb,text/x-python,application/x-ipynb+json"},
    )
    code = TextAreaField(
        "…or paste your code",
        validators=[Length(max=MAX_SOURCE_CHARS, message="The pasted code is longer than 256 KB.")],
        render_kw={"rows": 14, "spellcheck": "false", "autocapitalize": "none", "autocomplete": "off"},
    )
    submit = SubmitField("Submit for grading")

    def source(self) -> tuple[bytes | None, str]:
        """The submitted bytes and file name; errors are added to the form when there is no usable source."""
        upload = self.file.data
        has_file = upload is not None and bool(getattr(upload, "filename", ""))
        pasted = (self.code.data or "").replace("\r\n", "\n")
        has_code = bool(pasted.strip())
        if has_file and has_code:
            self.form_errors.append("Upload a file or paste code, not both.")
            return None, ""
        if has_file:
            filename = clean_filename(upload.filename)
            if not filename.lower().endswith(SUBMISSION_SUFFIXES):
                self.file.errors = [
                    *self.file.errors,
                    "Upload a Python file or a Jupyter notebook: its name must end in .py or .ipynb.",
                ]
                return None, ""
            return upload.read(), filename
        if has_code:
            return pasted.encode("utf-8"), DEFAULT_FILENAME
        self.form_errors.append("Choose a .py file to upload, or paste your code.")
        return None, ""
