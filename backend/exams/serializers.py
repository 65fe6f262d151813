from rest_framework import serializers

from exams.models import Exam


class ExamSerializer(serializers.ModelSerializer):
    copy_count = serializers.SerializerMethodField()

    class Meta:
        model = Exam
        fields = [
            "id",
            "title",
            "course",
            "exam_date",
            "pages_per_copy",
            "page_count",
            "status",
            "copy_count",
            "created_at",
        ]
        read_only_fields = ["page_count", "status", "created_at"]

    def get_copy_count(self, exam):
        return exam.copies.count()

    def validate_pages_per_copy(self, value):
        if not 1 <= value <= 64:
            raise serializers.ValidationError("Pages per copy must be between 1 and 64.")
        return value
