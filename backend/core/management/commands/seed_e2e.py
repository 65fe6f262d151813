"""Seeds the E2E template database (users, students, a processed exam with its files) and writes the
sample files the browser tests upload (into `--samples`, by default `<MEDIA_ROOT>/samples`)."""
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand

from core.models import User
from exams.models import Exam
from grading.models import Copy
from processing.samples import build_scan
from processing.services import process_exam
from students.models import Student

USERS = [("alice", "admin", "Alice", "Martin"), ("bob", "teacher", "Bob", "Durand"),
         ("carol", "teacher", "Carol", "Petit"), ("dan", "teacher", "Dan", "Roux")]
STUDENTS = [("S101", "Bernard", "Léa"), ("S102", "Dubois", "Hugo"), ("S103", "Moreau", "Inès"),
            ("S104", "Laurent", "Noah")]


class Command(BaseCommand):
    help = "Seed the E2E template: every user's password is '<username>-pass'."

    def add_arguments(self, parser):
        parser.add_argument("--samples", type=Path, help="where to write upload samples (default: MEDIA_ROOT/samples)")

    def handle(self, *args, samples, **options):
        samples = samples or Path(settings.MEDIA_ROOT) / "samples"
        for username, role, first, last in USERS:
            User.objects.create_user(username, f"{username}@school.test", f"{username}-pass",
                                     role=role, first_name=first, last_name=last)
        students = [Student.objects.create(student_id=sid, last_name=last, first_name=first,
                                           email=f"{sid.lower()}@school.test", group="A")
                    for sid, last, first in STUDENTS]
        bob = User.objects.get(username="bob")
        algebra = Exam.objects.create(title="Algebra midterm", course="MATH101", pages_per_copy=2, created_by=bob)
        algebra.source_pdf.save("algebra.pdf", ContentFile(build_scan(4, 2, base_width=620)), save=False)
        algebra.page_count = 8
        algebra.status = Exam.Status.UPLOADED
        algebra.save()
        for copy, student in zip(process_exam(algebra), students):
            Copy.objects.filter(pk=copy.pk).update(student=student)
        Exam.objects.create(title="Physics final", course="PHYS201", pages_per_copy=1, created_by=bob)

        samples.mkdir(parents=True, exist_ok=True)
        (samples / "scan-3-copies.pdf").write_bytes(build_scan(3, 1, base_width=620))
        (samples / "scan-3-pages.pdf").write_bytes(build_scan(3, 1, base_width=620))
        (samples / "photo.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 256)
        self.stdout.write(f"seeded {User.objects.count()} users, {Exam.objects.count()} exams, "
                          f"{Copy.objects.count()} copies; samples in {samples}")
