from rest_framework import serializers

from core.audit import describe
from core.models import AuditLog, User


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "role"]


class AuditLogSerializer(serializers.ModelSerializer):
    text = serializers.SerializerMethodField()

    class Meta:
        model = AuditLog
        fields = ["id", "action", "target_type", "target_id", "details", "created_at", "text"]

    def get_text(self, entry):
        name = entry.actor.username if entry.actor else None
        return describe(name, entry.action, entry.target_type, entry.target_id, entry.details)
