"""Notebooks and leftover notebook code through the web form and the API (issue 14):
accepted like .py files, stored as handed in, graded on their code, noted on the result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.db.models import Submission
from tests.web.test_api import alice_token, bearer, grade_now, post_file  # noqa: F401 - fixture
from tests.web.test_student import text, upload

TEXTBOOK = (Path(__file__).resolve().parents[1] / "grading" / "notebooks" / "textbook.ipynb").read_text(
    encoding="utf-8"
)
LAB = "lab01-mse"
DATASET_NOTE = "cell 13, line 5 (`from dataset.mnist import load_mnist"


def _graded(client, services, token, submission_id: int) -> dict:
    grade_now(services, submission_id)
    response = client.get(f"/api/v1/submissions/{submission_id}", headers=bearer(token))
    assert response.status_code == 200
    return response.get_json()


def test_a_notebook_uploaded_to_the_api_is_stored_as_handed_in_and_graded(client, services, alice_token):  # noqa: F811
    response = post_file(client, alice_token, source=TEXTBOOK, filename="ch04 loss.ipynb")
    assert response.status_code == 202, response.get_data(as_text=True)
    submission_id = response.get_json()["id"]
    with services.sessions() as session:
        row = session.get(Submission, submission_id)
        assert (row.filename, row.source) == ("ch04 loss.ipynb", TEXTBOOK)
    document = _graded(client, services, alice_token, submission_id)
    assert document["score"] == document["max_score"] > 0
    assert any(note.startswith(DATASET_NOTE) for note in document["notes"]), document["notes"]


def test_json_with_format_ipynb_takes_the_notebook_as_an_object(client, services, alice_token):  # noqa: F811
    body = {"source": json.loads(TEXTBOOK), "format": "ipynb"}
    response = client.post(f"/api/v1/labs/{LAB}/submissions", json=body, headers=bearer(alice_token))
    assert response.status_code == 202, response.get_data(as_text=True)
    submission_id = response.get_json()["id"]
    with services.sessions() as session:
        assert session.get(Submission, submission_id).filename == "submission.ipynb"
    document = _graded(client, services, alice_token, submission_id)
    assert document["score"] == document["max_score"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"source": "x = 1", "format": "notebook"}, 400, "'format' must be py or ipynb"),
        ({"source": {"cells": []}}, 400, "source"),  # an object only with format ipynb
        ({"source": "x = 1", "filename": "notes.txt"}, 422, ".py or .ipynb"),
    ],
)
def test_bad_notebook_requests_are_refused(client, alice_token, dispatcher, body, status, words):  # noqa: F811
    response = client.post(f"/api/v1/labs/{LAB}/submissions", json=body, headers=bearer(alice_token))
    assert response.status_code == status, response.get_data(as_text=True)
    assert words in response.get_json()["message"]
    assert not dispatcher.dispatched


def test_a_notebook_with_large_stored_outputs_is_accepted(client, services, alice_token):  # noqa: F811
    notebook = json.loads(TEXTBOOK)
    notebook["cells"][3]["outputs"] = [
        {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo" * 150_000}}
    ]
    response = post_file(client, alice_token, source=json.dumps(notebook), filename="plots.ipynb")
    assert response.status_code == 202, response.get_data(as_text=True)[:300]


def test_a_malformed_notebook_gets_one_sentence_on_the_result(client, services, alice_token):  # noqa: F811
    response = post_file(client, alice_token, source='{"nbformat": 4, "cells": [', filename="broken.ipynb")
    document = _graded(client, services, alice_token, response.get_json()["id"])
    assert document["score"] == 0
    assert document["submission_error"].startswith("the notebook is not valid JSON")


def test_the_web_form_takes_a_notebook_gives_it_back_and_shows_the_notes(student_client, services):
    response = upload(student_client, TEXTBOOK, filename="loss.ipynb")
    assert response.status_code == 303, text(response)[:500]
    submission_id = int(response.headers["Location"].rsplit("/", 1)[1])
    grade_now(services, submission_id)
    page = text(student_client.get(f"/submissions/{submission_id}"))
    assert "About your file" in page and "<code>from dataset.mnist import load_mnist" in page
    code = page.split("Your code", 1)[1]  # the notebook's code cells, numbered, not its JSON
    assert "# cell 13\n" in code and "&#34;nbformat&#34;" not in code and '"cell_type"' not in code
    download = student_client.get(f"/submissions/{submission_id}/source")
    assert download.mimetype == "application/x-ipynb+json"
    assert download.get_data(as_text=True) == TEXTBOOK


def test_the_web_form_refuses_other_files(student_client):
    response = upload(student_client, "x = 1\n", filename="notes.txt")
    assert response.status_code == 400
    assert "its name must end in .py or .ipynb" in text(response)


def test_leftover_code_in_a_py_file_is_noted_on_the_result_page(student_client, services):
    source = (
        "import numpy as np\nimport torch\n\ndef mean_squared_error(y, t):\n"
        "    y, t = np.asarray(y, dtype=float), np.asarray(t, dtype=float)\n"
        "    return float(0.5 * np.sum((y - t) ** 2))\n"
    )
    response = upload(student_client, source)
    submission_id = int(response.headers["Location"].rsplit("/", 1)[1])
    grade_now(services, submission_id)
    page = text(student_client.get(f"/submissions/{submission_id}"))
    assert "only NumPy and the Python standard library are available to your code; <code>torch</code> is not" in page
