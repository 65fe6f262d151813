"""Writing and describing audit entries."""
from core.models import AuditLog


def record(actor, action: str, target, **details) -> AuditLog:
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=type(target).__name__.lower(),
        target_id=str(target.pk),
        details=details,
    )


def describe(actor_name: str | None, action: str, target_type: str, target_id: str, details: dict) -> str:
    """One human line per entry, e.g. `alice copy.score copy#12 (question=Q1, points=3)`."""
    who = actor_name or "system"
    line = f"{who} {action} {target_type}#{target_id}"
    if details:
        inner = ", ".join(f"{key}={details[key]}" for key in sorted(details))
        line += f" ({inner})"
    return line
