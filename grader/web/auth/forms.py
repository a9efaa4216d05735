"""Sign-in and sign-out forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length


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


class SetPasswordForm(FlaskForm):
    """Choose a password (after following an invitation or a reset link): typed twice."""

    password = PasswordField(
        "New password",
        validators=[DataRequired(message="Choose a password."), Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Type it again",
        validators=[
            DataRequired(message="Type the password a second time."),
            EqualTo("password", message="The two passwords differ. Type the same password twice."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Save password and sign in")


class ForgotPasswordForm(FlaskForm):
    """The address a reset link is mailed to."""

    email = StringField(
        "Your email address",
        validators=[DataRequired(message="Enter your email address."), Length(max=320)],
        render_kw={"autocomplete": "email", "autocapitalize": "none", "spellcheck": "false", "inputmode": "email"},
    )
    submit = SubmitField("Send me a reset link")


class ActionForm(FlaskForm):
    """A button that changes something (CSRF token only): resend, reset link, retry."""

    submit = SubmitField("Go")
