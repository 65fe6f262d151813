"""Queries only PostgreSQL answers: full-text search in annotations, JSONB filters on copy metadata."""
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db.models import F

from grading.models import Annotation, Copy


def search_annotations(exam_id: int, query: str):
    vector = SearchVector("text", config="english")
    search = SearchQuery(query, config="english", search_type="websearch")
    return (
        Annotation.objects.filter(copy__exam_id=exam_id)
        .annotate(document=vector, rank=SearchRank(vector, search))
        .filter(document=search)
        .order_by(F("rank").desc(), "id")
    )


def copies_with_metadata(exam_id: int, **lookups):
    """`copies_with_metadata(1, scanner__dpi__gte=300)` filters on the JSONB `metadata` column."""
    return Copy.objects.filter(exam_id=exam_id, **{f"metadata__{key}": value for key, value in lookups.items()})
