"""Flask extensions shared by every app: CSRF protection and the login manager.

The rate limiter is made per app (:func:`grader.web.auth.init_app`), because
Flask-Limiter keeps its storage and settings on the extension object.
"""

from __future__ import annotations

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
