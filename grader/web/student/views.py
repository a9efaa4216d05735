"""Student views. Every submission is looked up together with its owner: another student's is a 404."""

from __future__ import annotations

import io
import json
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from grader.db.models import CourseLab
from grader.service.outlook import PENDING, outlook
from grader.web import feedback
from grader.web.auth.roles import student_required
from grader.web.course_context import current_course
from grader.web.db import get_db, get_services
from grader.web.polling import ask_again_in
from grader.web.student import bp, queries
from grader.web.student.attempt_diff import attempt_diff
from grader.web.student.forms import SubmitForm
from grader.web.student.handout import check_command, render_handout
from grader.web.student.standing import standing

ARRAY_NOTE = 'Arrays are {"array": nested lists, "dtype": ...}: numpy.array(value["array"], dtype=value["dtype"]).'


@bp.route("/labs")
@student_required
def labs() -> Any:
    """Every lab: due date, time left, the latest submission's status and the counted score."""
    rows = queries.lab_rows(get_db(), current_user.id)
    return render_template("student/labs.html", rows=rows)


@bp.app_template_filter("handout")
def handout_filter(text: str | None, title: str | None = None) -> Any:
    """A handout as HTML with its formulas typeset; a first heading equal to ``title`` is left out."""
    return render_handout(text, title)


def _lab_page(lab_id: str, form: SubmitForm, status: int = 200, problem: str | None = None) -> Any:
    db = get_db()
    lab = queries.lab_or_404(db, lab_id)
    extension = queries.extension_for(db, current_user.id, lab_id)
    deadline = queries.deadline_for(lab, extension)
    definition = queries.lab_definition(lab.id, lab.version)
    history = queries.attempts(db, current_user.id, lab.id)
    score = queries.score_for(db, current_user.id, lab.id)
    page = render_template(
        "student/lab.html",
        lab=lab,
        definition=definition,
        deadline=deadline,
        attempts=history,
        score=score,
        standing=standing(db, lab, current_user.id, history, score, extension.due_at if extension else None),
        check_command=check_command(lab.id, definition.handout if definition else None),
        form=form,
        problem=problem,
        hidden_count=len(definition.fixtures_by("hidden")) if definition else 0,
    )
    return page, status


@bp.route("/labs/<lab_id>")
@student_required
def lab(lab_id: str) -> Any:
    """The handout, how to check locally, the submit form and your attempts."""
    return _lab_page(lab_id, SubmitForm())


@bp.route("/labs/<lab_id>/submit", methods=["POST"])
@student_required
def submit(lab_id: str) -> Any:
    """Take an uploaded or pasted submission and queue it for grading."""
    from grader.service.submissions import SubmissionRefused
    from grader.service.submissions import submit as submit_source

    db = get_db()
    queries.lab_or_404(db, lab_id)
    form = SubmitForm()
    if not form.validate_on_submit():
        return _lab_page(lab_id, form, 400)
    source, filename = form.source()
    if source is None:
        return _lab_page(lab_id, form, 400)
    try:
        submission = submit_source(
            get_services(), current_user.id, lab_id, source, filename, course_id=current_course().id
        )
    except SubmissionRefused as exc:
        return _lab_page(lab_id, form, 422, problem=str(exc))
    flash(f"Attempt {submission.attempt} received: grading has started.", "success")
    return redirect(url_for("student.submission", submission_id=submission.id), code=303)


@bp.route("/labs/<lab_id>/public-fixtures.json")
@student_required
def public_fixtures(lab_id: str) -> Any:
    """The public fixtures with inputs and expected values, as a JSON download."""
    lab = queries.lab_or_404(get_db(), lab_id)
    definition = queries.lab_definition(lab.id, lab.version)
    if definition is None:
        abort(404)
    document = {
        "lab": lab.id,
        "title": lab.title,
        "version": definition.version,
        "note": ARRAY_NOTE,
        "fixtures": queries.public_fixtures(definition),
    }
    body = json.dumps(document, indent=2, allow_nan=False)
    return Response(
        body + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{lab.id}-public-fixtures.json"'},
    )


@bp.route("/labs/<lab_id>/attempts")
@student_required
def attempts(lab_id: str) -> Any:
    """Every attempt at a lab with its score, and a form to compare two of them."""
    db = get_db()
    lab = queries.lab_or_404(db, lab_id)
    history = queries.attempts(db, current_user.id, lab.id)
    extension = queries.extension_for(db, current_user.id, lab_id)
    score = queries.score_for(db, current_user.id, lab.id)
    where = standing(db, lab, current_user.id, history, score, extension.due_at if extension else None)
    return render_template("student/attempts.html", lab=lab, attempts=history, standing=where)


@bp.route("/labs/<lab_id>/diff")
@student_required
def diff(lab_id: str) -> Any:
    """What changed between two of your attempts (``?a=1&b=2``, attempt numbers)."""
    db = get_db()
    lab = queries.lab_or_404(db, lab_id)
    first, second = request.args.get("a", type=int), request.args.get("b", type=int)
    if first is None or second is None:
        history = queries.attempts(db, current_user.id, lab.id)
        if len(history) < 2:
            flash("You need two attempts to compare.", "info")
            return redirect(url_for("student.attempts", lab_id=lab.id))
        second, first = history[0].attempt, history[1].attempt
    old = queries.own_attempt_or_404(db, current_user.id, lab.id, first)
    new = queries.own_attempt_or_404(db, current_user.id, lab.id, second)
    definition = queries.lab_definition(lab.id, lab.version)
    functions = [f.name for f in definition.functions] if definition else []
    return render_template("student/diff.html", lab=lab, old=old, new=new, diff=attempt_diff(old, new, functions))


@bp.route("/submissions/<int:submission_id>")
@student_required
def submission(submission_id: int) -> Any:
    """One of your submissions: its status (live while grading), then the verdict, each cause
    of lost points once with the fixtures it explains, and the fixtures' details folded away."""
    db = get_db()
    found = queries.own_submission_or_404(db, current_user.id, submission_id)
    graded = found.status == "graded"
    results = found.results if graded else []
    return render_template(
        "student/submission.html",
        submission=found,
        lab=db.get(CourseLab, (found.course_id, found.lab_id)) or found.lab,  # the course's policy
        pending=found.status in PENDING,
        standing=outlook(db, found),
        results=results,
        feedback=feedback.build(found, results, found.lab_id) if graded else None,
        tolerances=queries.tolerances(found.lab_id, found.lab_version) if graded else {},
    )


@bp.route("/submissions/<int:submission_id>/status")
@student_required
def submission_status(submission_id: int) -> Any:
    """A small JSON status for the submission page's polling; while pending, its place in
    the queue and when to ask again (``retry_after``, seconds; also as ``Retry-After``)."""
    db = get_db()
    found = queries.own_submission_or_404(db, current_user.id, submission_id)
    standing = outlook(db, found)
    data = {
        "id": found.id,
        "status": found.status,
        "done": found.status not in PENDING,
        "score": found.score,
        "max_score": found.max_score,
        **(standing.to_dict() if standing else {}),
    }
    ask_again_in(standing.wait_seconds if standing else None)
    return data


@bp.route("/submissions/<int:submission_id>/source")
@student_required
def submission_source(submission_id: int) -> Any:
    """Download the file you submitted."""
    found = queries.own_submission_or_404(get_db(), current_user.id, submission_id)
    return send_file(
        io.BytesIO(found.source.encode("utf-8")),
        mimetype="application/x-ipynb+json" if (found.filename or "").endswith(".ipynb") else "text/x-python",
        as_attachment=True,
        download_name=found.filename or "submission.py",
        max_age=0,
    )
