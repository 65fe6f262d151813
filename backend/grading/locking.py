"""Grader locks on copies: at most one grader per copy, enforced by row locks in PostgreSQL."""
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from grading import workflow
from grading.models import Copy


class CopyLocked(RuntimeError):
    def __init__(self, holder):
        super().__init__(f"This copy is being graded by {holder.username}.")
        self.holder = holder


class NotLockHolder(RuntimeError):
    pass


def lock_expired(copy: Copy, now=None) -> bool:
    if copy.locked_at is None:
        return True
    now = now or timezone.now()
    return now - copy.locked_at > timedelta(minutes=settings.GRADING_LOCK_MINUTES)


def acquire(copy_id: int, user, now=None) -> Copy:
    """Locks a ready or graded copy for `user`; renews the user's own lock; takes over an expired one."""
    now = now or timezone.now()
    with transaction.atomic():
        copy = Copy.objects.select_for_update().get(pk=copy_id)
        if copy.status == Copy.Status.LOCKED:
            if copy.locked_by_id not in (None, user.pk) and not lock_expired(copy, now):
                raise CopyLocked(copy.locked_by)
        else:
            copy.status = workflow.next_state(copy.status, "lock")
        copy.locked_by = user
        copy.locked_at = now
        copy.save(update_fields=["status", "locked_by", "locked_at"])
        return copy


def release(copy_id: int, user, *, force: bool = False) -> Copy:
    with transaction.atomic():
        copy = Copy.objects.select_for_update().get(pk=copy_id)
        if copy.locked_by_id != user.pk and not force:
            raise NotLockHolder("Only the grader holding the lock can release it.")
        copy.status = workflow.next_state(copy.status, "release")
        copy.locked_by = None
        copy.locked_at = None
        copy.save(update_fields=["status", "locked_by", "locked_at"])
        return copy


def next_for_grader(exam_id: int, user, now=None) -> Copy | None:
    """Locks and returns the first ready copy nobody else is locking right now, or None.

    `skip_locked` lets many graders ask at once without waiting on each other's row locks.
    """
    now = now or timezone.now()
    with transaction.atomic():
        copy = (
            Copy.objects.select_for_update(skip_locked=True)
            .filter(exam_id=exam_id, status=Copy.Status.READY)
            .order_by("number")
            .first()
        )
        if copy is None:
            return None
        copy.status = workflow.next_state(copy.status, "lock")
        copy.locked_by = user
        copy.locked_at = now
        copy.save(update_fields=["status", "locked_by", "locked_at"])
        return copy


def require_holder(copy: Copy, user) -> None:
    if copy.status != Copy.Status.LOCKED or copy.locked_by_id != user.pk:
        raise NotLockHolder("Lock the copy before changing it.")
