"""A large upload end to end through a real Celery worker process: upload,
the preview task, confirm, the import task, progress and status on the run.

The worker is started on the configured broker (the filesystem transport by
default, Redis in CI when ``CELERY_BROKER_URL`` is set), like the nightly
job's test. Uploads are stored where both processes see them: a
``FileSystemStorage`` in a temporary folder, for the test and, through a
settings module written next to it, for the worker.
"""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from celery import Celery
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse

from bench.imports import generate
from bench.load import database_url
from ingestion import tasks
from ingestion.models import ImportRun
from partners.models import RevenueRecord
from tests.factories import LocationFactory, StaffUserFactory

RESELLERS = ("4711001", "4711002", "4711003")
LINES = 3_000
WAIT_SECONDS = 120


def _producer(broker_url: str, broker_dir: Path) -> Celery:
    """A Celery app that only sends, bound to the worker's broker."""
    # (not the current app: the project's tasks stay bound to the project's app)
    producer = Celery("portal-test-imports", broker=broker_url, set_as_current=False)
    if broker_url.startswith("filesystem://"):
        queue = broker_dir / "queue"
        queue.mkdir(parents=True, exist_ok=True)
        producer.conf.broker_transport_options = {
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "control_folder": str(broker_dir / "control"),
        }
    producer.conf.task_serializer = "json"
    return producer


def _wait_for(run_pk: int, statuses: set[str], worker: subprocess.Popen) -> ImportRun:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        run = ImportRun.objects.get(pk=run_pk)
        if run.status in statuses:
            return run
        assert worker.poll() is None, "the worker died"
        time.sleep(0.3)
    pytest.fail(f"the worker did not finish: run is {run.status}, progress {run.progress}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_previews_and_imports_a_large_upload(
    client, tmp_path: Path, settings, settings_fixture_storage, reference_data
):
    settings.IMPORT_ASYNC_ROWS = 1_000  # the file is "large"
    for mpn in RESELLERS:
        LocationFactory(location_id=mpn)
    staff = StaffUserFactory()
    client.force_login(staff)
    path = tmp_path / "reconciliation.csv"
    generate(path, rows=LINES, resellers=list(RESELLERS), seed=3)

    broker_url = os.environ.get("CELERY_BROKER_URL", "filesystem://")
    broker_dir = tmp_path / "broker"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "import_worker_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(settings.BASE_DIR)]),
        "DATABASE_URL": database_url(connection.settings_dict),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_FILESYSTEM_DIR": str(broker_dir),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    producer = _producer(broker_url, broker_dir)

    def delay_on_commit(run_pk, dry_run):
        # What the pages do, but sent to the worker's broker.
        transaction.on_commit(
            lambda: producer.send_task("partners.import_run", args=[run_pk, dry_run])
        )

    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo",
         "--without-mingle", "--without-gossip", "--loglevel=INFO",
         "-n", f"imports{os.getpid()}@%h"],
        env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    original = tasks.import_run.delay_on_commit
    tasks.import_run.delay_on_commit = delay_on_commit
    try:
        response = client.post(
            reverse("imports:new"),
            {
                "kind": "revenue:partner-center",
                "file": SimpleUploadedFile(path.name, path.read_bytes(), "text/csv"),
            },
        )
        run = ImportRun.objects.get()
        assert response["Location"] == reverse("imports:detail", args=[run.pk])
        assert run.status == "pending"  # sent to the worker, not run here
        assert run.lines == LINES + 1
        assert default_storage.exists(run.stored_name)  # in the shared folder

        run = _wait_for(run.pk, {"previewed", "rejected", "failed"}, worker)
        assert (run.status, run.progress, run.error_count) == ("previewed", 1.0, 0)
        assert run.counts["preview"]["created"] == LINES
        assert not RevenueRecord.objects.exists()  # a preview writes nothing
        progress = client.get(reverse("imports:progress", args=[run.pk])).json()
        assert progress == {"status": "previewed", "progress": 1.0, "done": True}

        client.post(reverse("imports:confirm", args=[run.pk]))
        assert ImportRun.objects.get(pk=run.pk).status in ("running", "succeeded")
        run = _wait_for(run.pk, {"succeeded", "failed"}, worker)
        assert run.status == "succeeded", run.message
        assert (run.progress, run.counts["result"]["created"]) == (1.0, LINES)
        assert RevenueRecord.objects.count() == LINES
        assert not default_storage.exists(run.stored_name)  # removed once imported
    finally:
        tasks.import_run.delay_on_commit = original
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert output.count("partners.import_run") >= 2, output[-2000:]


@pytest.fixture
def settings_fixture_storage(settings, tmp_path: Path):
    """Uploads in a folder (not in memory), here and in the worker."""
    media = tmp_path / "media"
    media.mkdir()
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media)},
        },
    }
    settings.STORAGES = storages
    (tmp_path / "import_worker_settings.py").write_text(
        textwrap.dedent(
            f"""\
            from portal.settings.test import *  # noqa: F403

            STORAGES = {storages!r}
            """
        )
    )
    return storages
