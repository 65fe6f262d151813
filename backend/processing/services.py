"""Turns an uploaded exam scan into copies on disk and in the database."""
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from exams.models import Exam
from grading.models import Copy, CopyPage
from processing.pdf import SplitError, render_thumbnails, split_pdf


class ProcessingError(RuntimeError):
    """The exam is not in a state that can be processed."""


def copy_media_dir(exam: Exam) -> str:
    return f"copies/exam_{exam.pk}"


def clear_copies(exam: Exam) -> None:
    """Removes an exam's copies and every file they own, so processing can run again."""
    for copy in exam.copies.all():
        for page in copy.pages.all():
            page.thumbnail.delete(save=False)
        copy.pdf.delete(save=False)
    exam.copies.all().delete()


def process_exam(exam: Exam) -> list[Copy]:
    if exam.status == Exam.Status.DRAFT or not exam.source_pdf:
        raise ProcessingError("Upload the scan before processing the exam.")
    if exam.copies.exclude(status=Copy.Status.READY).exists():
        raise ProcessingError("Grading has started on this exam; its copies can no longer be rebuilt.")
    with exam.source_pdf.open("rb") as handle:
        data = handle.read()
    try:
        parts = split_pdf(data, exam.pages_per_copy)
    except SplitError as error:
        raise ProcessingError(str(error)) from error
    copies = []
    with transaction.atomic():
        clear_copies(exam)
        for number, part in enumerate(parts, start=1):
            copy = Copy(exam=exam, number=number, metadata={"pages": exam.pages_per_copy})
            copy.pdf.save(f"copy_{number:03d}.pdf", ContentFile(part), save=False)
            copy.save()
            thumbs_dir = Path(settings.MEDIA_ROOT) / copy_media_dir(exam) / f"thumbs_{number:03d}"
            for page_number, path in enumerate(
                render_thumbnails(part, thumbs_dir, width=settings.THUMBNAIL_WIDTH), start=1
            ):
                relative = path.relative_to(Path(settings.MEDIA_ROOT)).as_posix()
                CopyPage.objects.create(copy=copy, number=page_number, thumbnail=relative)
            copies.append(copy)
        exam.status = Exam.Status.PROCESSED
        exam.save(update_fields=["status"])
    return copies


def media_files(exam: Exam) -> list[str]:
    """Every file under the exam's copy directory, relative to MEDIA_ROOT (for checks and clean-up)."""
    root = Path(default_storage.location) / copy_media_dir(exam)
    if not root.exists():
        return []
    return sorted(p.relative_to(default_storage.location).as_posix() for p in root.rglob("*") if p.is_file())
