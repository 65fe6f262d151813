"""Grading API: list copies, lock and release, annotate, score, submit and finalize."""
from django.db import transaction
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import record
from core.permissions import Allows, user_allows
from grading import locking, workflow
from grading.models import Copy, Score
from grading.search import search_annotations
from grading.serializers import AnnotationSerializer, CopySerializer, ScoreSerializer


def conflict(message: str, **extra):
    return Response({"detail": message, **extra}, status=status.HTTP_409_CONFLICT)


class CopyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CopySerializer

    def get_queryset(self):
        copies = Copy.objects.select_related("locked_by", "student").prefetch_related("scores", "pages")
        exam = self.request.query_params.get("exam")
        return copies.filter(exam_id=exam) if exam else copies

    def get_permissions(self):
        needed = "copy.finalize" if self.action == "finalize" else "copy.grade"
        if self.action in ("list", "retrieve"):
            needed = "copy.view"
        return [Allows.to(needed)()]

    def _respond(self, copy):
        return Response(CopySerializer(Copy.objects.get(pk=copy.pk)).data)

    @action(detail=True, methods=["post"])
    def lock(self, request, pk=None):
        copy = self.get_object()
        try:
            copy = locking.acquire(copy.pk, request.user)
        except locking.CopyLocked as error:
            return conflict(str(error), locked_by=error.holder.username)
        except workflow.InvalidTransition as error:
            return conflict(str(error))
        record(request.user, "copy.lock", copy)
        return self._respond(copy)

    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        copy = self.get_object()
        force = request.data.get("force") in (True, "true", "1")
        if force and not user_allows(request.user, "copy.force_release"):
            return Response({"detail": "Only an administrator can force a release."}, status=403)
        try:
            copy = locking.release(copy.pk, request.user, force=force)
        except (locking.NotLockHolder, workflow.InvalidTransition) as error:
            return conflict(str(error))
        record(request.user, "copy.release", copy, force=force)
        return self._respond(copy)

    @action(detail=True, methods=["get", "post"])
    def annotations(self, request, pk=None):
        copy = self.get_object()
        if request.method == "GET":
            return Response(AnnotationSerializer(copy.annotations.all(), many=True).data)
        try:
            locking.require_holder(copy, request.user)
        except locking.NotLockHolder as error:
            return conflict(str(error))
        serializer = AnnotationSerializer(data=request.data, context={"copy": copy})
        serializer.is_valid(raise_exception=True)
        serializer.save(copy=copy, author=request.user)
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["put"])
    def scores(self, request, pk=None):
        copy = self.get_object()
        try:
            locking.require_holder(copy, request.user)
        except locking.NotLockHolder as error:
            return conflict(str(error))
        serializer = ScoreSerializer(data=request.data, many=True)
        serializer.is_valid(raise_exception=True)
        questions = [item["question"] for item in serializer.validated_data]
        if len(set(questions)) != len(questions):
            return Response({"detail": "Each question may be scored once."}, status=400)
        with transaction.atomic():
            copy.scores.all().delete()
            Score.objects.bulk_create(Score(copy=copy, **item) for item in serializer.validated_data)
        record(request.user, "copy.score", copy, questions=len(questions))
        return self._respond(copy)

    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        copy = self.get_object()
        try:
            locking.require_holder(copy, request.user)
        except locking.NotLockHolder as error:
            return conflict(str(error))
        if not copy.scores.exists():
            return conflict("Score at least one question before submitting.")
        copy.status = workflow.next_state(copy.status, "submit")
        copy.graded_by = request.user
        copy.locked_by = None
        copy.locked_at = None
        copy.save(update_fields=["status", "graded_by", "locked_by", "locked_at"])
        record(request.user, "copy.submit", copy)
        return self._respond(copy)

    @action(detail=True, methods=["post"])
    def finalize(self, request, pk=None):
        copy = self.get_object()
        try:
            copy.status = workflow.next_state(copy.status, "finalize")
        except workflow.InvalidTransition as error:
            return conflict(str(error))
        copy.save(update_fields=["status"])
        record(request.user, "copy.finalize", copy)
        return self._respond(copy)


class NextCopyView(APIView):
    permission_classes = [Allows.to("copy.grade")]

    def post(self, request, exam_id):
        copy = locking.next_for_grader(exam_id, request.user)
        if copy is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        record(request.user, "copy.lock", copy, via="next")
        return Response(CopySerializer(copy).data)


class AnnotationSearchView(APIView):
    permission_classes = [Allows.to("copy.view")]

    def get(self, request, exam_id):
        query = request.query_params.get("q", "").strip()
        if not query:
            return Response({"detail": "Give a search text as ?q=."}, status=400)
        hits = search_annotations(exam_id, query)[:50]
        return Response([{"copy": hit.copy_id, "page": hit.page, "text": hit.text} for hit in hits])


