from rest_framework import serializers

from grading import workflow
from grading.models import Annotation, Copy, Score


def plain(number) -> str:
    """`Decimal("10.50")` as "10.5", `Decimal("20.00")` as "20"."""
    return format(number.normalize(), "f")


class AnnotationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Annotation
        fields = ["id", "page", "x", "y", "text", "created_at"]

    def validate(self, attrs):
        for axis in ("x", "y"):
            if not 0.0 <= attrs[axis] <= 1.0:
                raise serializers.ValidationError({axis: "Positions are fractions of the page, 0 to 1."})
        copy = self.context["copy"]
        pages = copy.pages.count() or copy.metadata.get("pages", 1)
        if not 1 <= attrs["page"] <= pages:
            raise serializers.ValidationError({"page": f"The copy has {pages} page(s)."})
        if not attrs["text"].strip():
            raise serializers.ValidationError({"text": "An annotation needs text."})
        return attrs


class ScoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = Score
        fields = ["question", "points", "max_points"]

    def validate(self, attrs):
        try:
            attrs["points"] = workflow.check_points(attrs["points"], attrs["max_points"])
        except workflow.InvalidScore as error:
            raise serializers.ValidationError({"points": str(error)}) from None
        return attrs


class CopySerializer(serializers.ModelSerializer):
    locked_by = serializers.CharField(source="locked_by.username", default=None, read_only=True)
    student_name = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    pages = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta:
        model = Copy
        fields = ["id", "exam", "number", "status", "locked_by", "student_name", "total", "pages", "actions"]

    def get_student_name(self, copy):
        return str(copy.student) if copy.student else None

    def get_total(self, copy):
        scores = [(s.points, s.max_points) for s in copy.scores.all()]
        if not scores:
            return None
        points, maximum = workflow.total(scores)
        return {
            "points": plain(points),
            "max": plain(maximum),
            "on_20": plain(workflow.grade_on_twenty(points, maximum)),
        }

    def get_pages(self, copy):
        return [page.thumbnail.url for page in copy.pages.all() if page.thumbnail]

    def get_actions(self, copy):
        return workflow.allowed_actions(copy.status)
