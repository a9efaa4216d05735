"""Sign-in and sign-out forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """Username (or student id) and password."""

    username = StringField(
        "Username or student id",
        validators=[DataRequired(message="Enter your username."), Length(max=150)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(message="Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Sign in")


class LogoutForm(FlaskForm):
    """Sign out (a POST with a CSRF token, so another site cannot sign you out)."""

    submit = SubmitField("Sign out")
