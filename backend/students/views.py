"""Students: the list, and the all-or-nothing CSV import."""
from django.db import transaction
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from core.audit import record
from core.permissions import Allows
from students.csv_import import parse_students_csv
from students.models import Student


class StudentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Student
        fields = ["id", "student_id", "last_name", "first_name", "email", "group"]


class StudentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Student.objects.all()
    serializer_class = StudentSerializer

    def get_permissions(self):
        action_name = "students.import" if self.action == "import_csv" else "students.view"
        return [Allows.to(action_name)()]

    def get_queryset(self):
        students = super().get_queryset()
        group = self.request.query_params.get("group")
        return students.filter(group=group) if group else students

    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser])
    def import_csv(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"detail": "Attach the CSV as the 'file' field."}, status=400)
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            return Response({"detail": "The CSV must be UTF-8 encoded."}, status=400)
        result = parse_students_csv(text)
        if not result.ok:
            errors = [vars(error) for error in result.errors]
            return Response({"created": 0, "updated": 0, "errors": errors}, status=400)
        created = updated = 0
        with transaction.atomic():
            for values in result.students:
                _, was_created = Student.objects.update_or_create(
                    student_id=values["student_id"],
                    defaults={key: values[key] for key in values if key != "student_id"},
                )
                created += was_created
                updated += not was_created
        record(request.user, "students.import", request.user, created=created, updated=updated)
        return Response({"created": created, "updated": updated, "errors": []}, status=status.HTTP_200_OK)
