import pytest

from core.permissions import ADMIN_ACTIONS, TEACHER_ACTIONS, role_allows, user_allows

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("action", sorted(TEACHER_ACTIONS))
def test_teacher_may_do_teacher_actions(action):
    assert role_allows("teacher", action)


@pytest.mark.parametrize("action", sorted(ADMIN_ACTIONS - TEACHER_ACTIONS))
def test_teacher_may_not_do_admin_only_actions(action):
    assert not role_allows("teacher", action)


@pytest.mark.parametrize("action", sorted(ADMIN_ACTIONS))
def test_admin_may_do_everything(action):
    assert role_allows("admin", action)


@pytest.mark.parametrize("role", ["", "student", "ADMIN", None])
def test_unknown_roles_may_do_nothing(role):
    assert not role_allows(role, "exam.view")


def test_unknown_action_is_a_programming_error():
    with pytest.raises(KeyError, match="exam.explode"):
        role_allows("admin", "exam.explode")


class FakeUser:
    def __init__(self, role, authenticated=True, active=True):
        self.role = role
        self.is_authenticated = authenticated
        self.is_active = active


def test_anonymous_user_is_refused():
    assert not user_allows(FakeUser("admin", authenticated=False), "exam.view")


def test_inactive_user_is_refused():
    assert not user_allows(FakeUser("admin", active=False), "exam.view")


def test_no_user_is_refused():
    assert not user_allows(None, "exam.view")


def test_active_teacher_is_allowed_by_role():
    assert user_allows(FakeUser("teacher"), "copy.grade")
    assert not user_allows(FakeUser("teacher"), "audit.view")
