"""Invitation and reset links, "forgot password", and the instructors' invitations page.

Following ``/welcome/<token>`` or ``/reset/<token>`` checks the link, keeps its token in
the session and redirects to the same page without it, so the token is not left in the
address bar, the history or a Referer. Choosing a password there uses the link up and
signs the student in; they land on their labs.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from grader.db.models import User
from grader.service.signin import INVITATION, PATHS, RESET, LinkError, find_link, redeem_link
from grader.web.auth import bp
from grader.web.auth.accounts import Account
from grader.web.auth.forms import ActionForm, ForgotPasswordForm, SetPasswordForm
from grader.web.auth.roles import instructor_required
from grader.web.db import get_db, get_services

LINK_KEY = "sign_in_link"  # (purpose, token) between following the link and choosing the password
POSTMAN_KEY = "lossgrader.postman"
FORGOT_SENT = (
    "If an account has this address, a link to reset its password is on its way. "
    "It may take a few minutes; look in your spam folder too."
)
TITLES = {INVITATION: "Welcome to lossgrader", RESET: "Choose a new password"}


def config() -> Any:
    """The service settings."""
    return current_app.config["LOSSGRADER"]


def base_url() -> str:
    """Links point at ``LOSSGRADER_BASE_URL``, else at the address this request came to."""
    return config().base_url or request.url_root


def mail_on() -> bool:
    """Whether mails are sent."""
    from grader.service.mail import mail_enabled

    return mail_enabled(config())


def mails_queued() -> None:
    """After committing queued mails: send them (at once when testing, else by the postman thread)."""
    from grader.service.mail import deliver_due

    postman = current_app.extensions.get(POSTMAN_KEY)
    if postman is not None:
        postman.wake()
    elif mail_on():
        deliver_due(get_services().sessions, config())


def start_postman(app: Any) -> None:
    """The thread that sends queued mails, for a served app with mail configured (tests send inline)."""
    from grader.service.mail import Postman, mail_enabled

    if mail_enabled(app.config["LOSSGRADER"]) and not app.testing:
        app.extensions[POSTMAN_KEY] = Postman(get_services(app).sessions, app.config["LOSSGRADER"]).start()


def sign_in_as(user: User) -> None:
    """Start a fresh session for ``user`` (no session fixation)."""
    logout_user()
    session.clear()
    session.permanent = True
    login_user(Account(user))


# --- following a link --------------------------------------------------------------------


def _follow(purpose: str, token: str) -> Any:
    try:
        find_link(get_db(), token, purpose)
    except LinkError as exc:
        return render_template("auth/link_problem.html", title=TITLES[purpose], problem=str(exc)), 410
    if current_user.is_authenticated:
        logout_user()  # the link is for someone else, or for you again: either way, start afresh
    session.clear()
    session[LINK_KEY] = [purpose, token]
    return redirect(url_for(f"auth.{PATHS[purpose]}_form"))


def _choose_password(purpose: str) -> Any:
    stored = session.get(LINK_KEY)
    if not stored or stored[0] != purpose:
        problem = "Open the link from your mail (or the one your instructor gave you) again."
        return render_template("auth/link_problem.html", title=TITLES[purpose], problem=problem), 410
    token = stored[1]
    db = get_db()
    try:
        link = find_link(db, token, purpose)
    except LinkError as exc:
        session.pop(LINK_KEY, None)
        return render_template("auth/link_problem.html", title=TITLES[purpose], problem=str(exc)), 410
    form = SetPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            user = redeem_link(db, token, purpose, form.password.data)
        except LinkError as exc:
            db.rollback()
            session.pop(LINK_KEY, None)
            return render_template("auth/link_problem.html", title=TITLES[purpose], problem=str(exc)), 410
        except ValueError as exc:
            db.rollback()
            error = str(exc)[:1].upper() + str(exc)[1:] + "."
        else:
            db.commit()
            current_app.logger.info("%s used by %s", purpose, user.username)
            sign_in_as(user)
            from grader.web.auth.views import home_url

            first = "Welcome! Your password is saved" if purpose == INVITATION else "Your new password is saved"
            flash(f"{first}: from now on, sign in as {user.username} with it.", "success")
            return redirect(home_url(current_user))
    return render_template(
        "auth/choose_password.html",
        form=form,
        error=error,
        purpose=purpose,
        title=TITLES[purpose],
        username=link.user.username,
        name=link.user.display_name or link.user.username,
    )


@bp.route("/welcome/<token>")
def welcome(token: str) -> Any:
    """An invitation link: check it, then ask for a password."""
    return _follow(INVITATION, token)


@bp.route("/welcome", methods=["GET", "POST"])
def welcome_form() -> Any:
    """Choose a password after following an invitation link."""
    return _choose_password(INVITATION)


@bp.route("/reset/<token>")
def reset(token: str) -> Any:
    """A password-reset link: check it, then ask for the new password."""
    return _follow(RESET, token)


@bp.route("/reset", methods=["GET", "POST"])
def reset_form() -> Any:
    """Choose a new password after following a reset link."""
    return _choose_password(RESET)


@bp.route("/forgot", methods=["GET", "POST"])
def forgot() -> Any:
    """Ask for a reset link by mail; the answer is the same whether the address is known or not."""
    if not mail_on():
        return render_template("auth/forgot.html", form=None, mail=False)
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        from sqlalchemy import func

        from grader.service.onboarding import reset_link

        address = form.email.data.strip()
        db = get_db()
        users = db.scalars(select(User).where(func.lower(User.email) == address.lower(), User.active.is_(True))).all()
        for user in users:
            sent = reset_link(db, config(), user, base_url=base_url(), created_by="web:forgot")
            if sent.problem:
                current_app.logger.info("reset mail for %s not sent: %s", user.username, sent.problem)
        db.commit()
        if users:
            mails_queued()
        flash(FORGOT_SENT, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form, mail=True)


# --- instructors: who has not signed in yet; resend, reset links, mail failures --------------


def _student(user_id: int) -> User:
    user = get_db().get(User, user_id)
    if user is None or user.role != "student":
        abort(404)
    from grader.web.auth.scope import may_manage

    if not may_manage(current_user, user):
        abort(404)  # not a student of one of your courses: as if there were none
    return user


@bp.route("/invitations")
@bp.route("/courses/<course>/invitations")
@instructor_required
def invitations(course: str | None = None) -> Any:
    """Students (of your courses, or of ``course``) who have not accepted their invitation, and failed mails."""
    from grader.service.mail import undelivered
    from grader.service.signin import has_signed_in, pending_invitations
    from grader.web.auth.scope import manageable_students

    db = get_db()
    chosen = None
    if course is not None:
        from grader.service.courses import can_manage_course, find_course

        chosen = find_course(db, course)
        if chosen is None or not can_manage_course(db, chosen, current_user.user):
            abort(404)  # not a course of yours: as if there were none
    everyone = manageable_students(db, current_user, chosen)
    students = [u for u in everyone if u.active and not has_signed_in(u)]
    links = pending_invitations(db, [u.id for u in students])
    known = {u.id for u in everyone}
    mails = [m for m in undelivered(db) if m.user_id in known or (current_user.is_admin and chosen is None)]
    shown = session.pop("shown_links", None) or []
    return render_template(
        "auth/invitations.html",
        course=chosen,
        students=students,
        links=links,
        mails=mails,
        shown=shown,
        mail=mail_on(),
        form=ActionForm(),
    )


def _show_or_say(sent: Any, what: str) -> None:
    if sent.mailed:
        flash(f"{what} for {sent.username} is on its way to {sent.email}.", "success")
        return
    if sent.problem:
        flash(f"{what} for {sent.username}: {sent.problem}. Give them the link below instead.", "warning")
    session["shown_links"] = [[sent.username, sent.link.url, sent.link.expires_at.isoformat()]]


@bp.route("/invitations/<int:user_id>/resend", methods=["POST"])
@instructor_required
def resend(user_id: int) -> Any:
    """A new invitation (the earlier link stops working): mailed, or shown once."""
    from grader.service.onboarding import resend_invitation

    return _send_link(user_id, resend_invitation, "A new invitation")


@bp.route("/students/<int:user_id>/reset-link", methods=["POST"])
@instructor_required
def issue_reset_link(user_id: int) -> Any:
    """A password-reset link for a student of your course: mailed when mail is on, else shown once."""
    from grader.service.onboarding import reset_link

    return _send_link(user_id, reset_link, "A password-reset link")


def _send_link(user_id: int, issue: Any, what: str) -> Any:
    """Issue a link for a student of yours with ``issue`` (mailed, or shown once) and go back."""
    if not ActionForm().validate_on_submit():
        abort(400)
    user = _student(user_id)
    db = get_db()
    try:
        sent = issue(
            db,
            config(),
            user,
            base_url=base_url(),
            created_by=f"web:{current_user.username}",
            course_id=_link_course(user),
            actor_id=current_user.id,
        )
    except ValueError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("auth.invitations"))
    db.commit()
    mails_queued()
    _show_or_say(sent, what)
    return _back(sent)


def _link_course(user: User) -> int | None:
    """The course the link is issued in, for the audit trail: the form's ``course`` (the page's course) when
    the student is in it and you teach it, else the one such course; None when there are several."""
    from grader.db.models import Course, Enrolment

    query = select(Enrolment.course_id).where(Enrolment.user_id == user.id, Enrolment.role == "student")
    if not current_user.is_admin:
        taught = select(Enrolment.course_id).where(Enrolment.user_id == current_user.id, Enrolment.role == "instructor")
        query = query.where(Enrolment.course_id.in_(taught))
    shared = set(get_db().scalars(query))
    code = (request.form.get("course") or "").strip()[:64]
    named = get_db().scalar(select(Course.id).where(Course.code == code)) if code else None
    if named in shared:
        return named
    return shared.pop() if len(shared) == 1 else None


def _back(sent: Any) -> Any:
    """Back to the page of the button (``next``) when mailed; else to the Invitations page, which shows the link."""
    from grader.web.auth.views import safe_next

    target = safe_next(request.form.get("next")) if sent.mailed else None
    return redirect(target or url_for("auth.invitations"))


@bp.route("/invitations/reset-link", methods=["POST"])
@instructor_required
def reset_link_by_name() -> Any:
    """A reset link for the student named in the form (username or student id), from the Invitations page."""
    from grader.service.users import find_user

    if not ActionForm().validate_on_submit():
        abort(400)
    name = (request.form.get("student") or "").strip()[:150]
    from grader.web.auth.scope import may_manage

    user = find_user(get_db(), name) if name else None
    if user is None or user.role != "student" or not may_manage(current_user, user):  # one answer: no probing
        flash(f"No student {name} in your courses." if name else "Enter a username or student id.", "warning")
        return redirect(url_for("auth.invitations"))
    return issue_reset_link(user.id)


@bp.route("/mails/<int:mail_id>/retry", methods=["POST"])
@instructor_required
def retry_mail(mail_id: int) -> Any:
    """Send a mail that failed again, now."""
    from grader.db.models import OutboxMail
    from grader.service.mail import retry_now

    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_db()
    mail = db.get(OutboxMail, mail_id)
    if mail is None or mail.user_id is None:
        abort(404)
    _student(mail.user_id)
    retry_now(db, mail_id)
    db.commit()
    mails_queued()
    flash(f"Trying the mail to {mail.to_address} again.", "info")
    return redirect(url_for("auth.invitations"))
