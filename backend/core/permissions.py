"""Who may do what: one table of actions per role, and the DRF permission that reads it."""
from rest_framework.permissions import BasePermission

TEACHER_ACTIONS = frozenset(
    {
        "exam.view",
        "exam.create",
        "exam.upload",
        "exam.process",
        "students.view",
        "students.import",
        "copy.view",
        "copy.grade",
        "copy.finalize",
    }
)
ADMIN_ACTIONS = TEACHER_ACTIONS | {"exam.delete", "audit.view", "copy.force_release"}
ACTIONS_BY_ROLE = {"admin": ADMIN_ACTIONS, "teacher": TEACHER_ACTIONS}
ALL_ACTIONS = ADMIN_ACTIONS


def role_allows(role: str, action: str) -> bool:
    if action not in ALL_ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    return action in ACTIONS_BY_ROLE.get(role, frozenset())


def user_allows(user, action: str) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return role_allows(user.role, action)


class Allows(BasePermission):
    """`permission_classes = [Allows.to("exam.delete")]`."""

    action = ""

    @classmethod
    def to(cls, action: str):
        if action not in ALL_ACTIONS:
            raise KeyError(f"unknown action {action!r}")
        return type(f"Allows_{action.replace('.', '_')}", (cls,), {"action": action})

    def has_permission(self, request, view):
        return user_allows(request.user, self.action)
