"""Parses a class list in CSV and reports every bad row, so a teacher fixes the file in one pass."""
import csv
import io
import re
from dataclasses import dataclass, field

REQUIRED_COLUMNS = ("student_id", "last_name", "first_name", "email")
OPTIONAL_COLUMNS = ("group",)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STUDENT_ID = re.compile(r"^[A-Za-z0-9-]{1,32}$")
MAX_NAME = 100


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str


@dataclass
class ImportResult:
    students: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _delimiter(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


def parse_students_csv(text: str) -> ImportResult:
    result = ImportResult()
    text = text.lstrip("\ufeff")
    if not text.strip():
        result.errors.append(RowError(1, "", "The file is empty."))
        return result
    reader = csv.DictReader(io.StringIO(text), delimiter=_delimiter(text.splitlines()[0]))
    columns = [name.strip().lower() for name in reader.fieldnames or []]
    reader.fieldnames = columns
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        result.errors.append(RowError(1, ",".join(missing), "Missing column(s): " + ", ".join(missing)))
        return result
    seen = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            result.errors.append(RowError(line, "", "Too many fields on this line."))
            continue
        values = {key: (row.get(key) or "").strip() for key in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
        if not any(values.values()):
            continue
        row_errors = _check_row(line, values, seen)
        if row_errors:
            result.errors.extend(row_errors)
            continue
        seen[values["student_id"]] = line
        values["email"] = values["email"].lower()
        result.students.append(values)
    return result


def _check_row(line: int, values: dict, seen: dict) -> list:
    errors = []
    student_id = values["student_id"]
    if not student_id:
        errors.append(RowError(line, "student_id", "The student id is empty."))
    elif not STUDENT_ID.match(student_id):
        errors.append(RowError(line, "student_id", f"Invalid student id {student_id!r}."))
    elif student_id in seen:
        errors.append(
            RowError(line, "student_id", f"Duplicate student id {student_id!r} (first on line {seen[student_id]}).")
        )
    for column in ("last_name", "first_name"):
        if not values[column]:
            errors.append(RowError(line, column, f"The {column.replace('_', ' ')} is empty."))
        elif len(values[column]) > MAX_NAME:
            errors.append(RowError(line, column, f"The {column.replace('_', ' ')} is longer than {MAX_NAME}."))
    if not EMAIL.match(values["email"]):
        errors.append(RowError(line, "email", f"Invalid email {values['email']!r}."))
    return errors
