"""Exams: list, create, upload the scan (validated), process it into copies, delete."""
from django.conf import settings
from django.core.files.base import ContentFile
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from core.audit import record
from core.permissions import Allows
from exams.models import Exam
from exams.serializers import ExamSerializer
from exams.validation import PdfRejected, safe_filename, validate_pdf
from processing.services import ProcessingError, process_exam

ACTION_PERMISSIONS = {
    "list": "exam.view",
    "retrieve": "exam.view",
    "create": "exam.create",
    "update": "exam.create",
    "partial_update": "exam.create",
    "destroy": "exam.delete",
    "upload": "exam.upload",
    "process": "exam.process",
}


class ExamViewSet(viewsets.ModelViewSet):
    queryset = Exam.objects.all()
    serializer_class = ExamSerializer

    def get_permissions(self):
        return [Allows.to(ACTION_PERMISSIONS.get(self.action, "exam.view"))()]

    def perform_create(self, serializer):
        exam = serializer.save(created_by=self.request.user)
        record(self.request.user, "exam.create", exam, title=exam.title)

    def perform_destroy(self, exam):
        record(self.request.user, "exam.delete", exam, title=exam.title)
        if exam.source_pdf:
            exam.source_pdf.delete(save=False)
        exam.delete()

    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def upload(self, request, pk=None):
        exam = self.get_object()
        upload = request.FILES.get("file")
        if upload is None:
            return Response(
                {"code": "missing", "detail": "Attach the scan as the 'file' field."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if upload.size > settings.EXAM_MAX_UPLOAD_BYTES:
            data = b"x" * (settings.EXAM_MAX_UPLOAD_BYTES + 1)
        else:
            data = upload.read()
        try:
            pages = validate_pdf(
                data,
                max_bytes=settings.EXAM_MAX_UPLOAD_BYTES,
                max_pages=settings.EXAM_MAX_PAGES,
                pages_per_copy=exam.pages_per_copy,
            )
        except PdfRejected as rejected:
            record(request.user, "exam.upload_rejected", exam, code=rejected.code)
            return Response(
                {"code": rejected.code, "detail": rejected.message},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if exam.source_pdf:
            exam.source_pdf.delete(save=False)
        exam.source_pdf.save(safe_filename(upload.name), ContentFile(data), save=False)
        exam.page_count = pages
        exam.status = Exam.Status.UPLOADED
        exam.save()
        record(request.user, "exam.upload", exam, pages=pages)
        return Response(ExamSerializer(exam).data)

    @action(detail=True, methods=["post"])
    def process(self, request, pk=None):
        exam = self.get_object()
        try:
            copies = process_exam(exam)
        except ProcessingError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        record(request.user, "exam.process", exam, copies=len(copies))
        return Response({"copies": len(copies)})
