import pytest

from students.csv_import import parse_students_csv

pytestmark = pytest.mark.unit
HEADER = "student_id,last_name,first_name,email,group\n"


def parse(rows: str, header: str = HEADER):
    return parse_students_csv(header + rows)


def test_valid_file():
    result = parse("S1,Durand,Léa,lea@school.test,A\nS2,Martin,Hugo,hugo@school.test,B\n")
    assert result.ok
    assert [s["student_id"] for s in result.students] == ["S1", "S2"]
    assert result.students[0]["first_name"] == "Léa"


def test_semicolon_delimiter_as_spreadsheets_export_it():
    result = parse("S1;Durand;Léa;lea@school.test;A\n", header="student_id;last_name;first_name;email;group\n")
    assert result.ok and result.students[0]["group"] == "A"


def test_byte_order_mark_is_ignored():
    assert parse_students_csv("\ufeff" + HEADER + "S1,D,L,l@s.test,A\n").ok


def test_header_case_and_spaces_are_forgiven():
    result = parse("S1,D,L,l@s.test\n", header=" Student_ID , Last_Name,FIRST_NAME,Email\n")
    assert result.ok and result.students[0]["group"] == ""


def test_group_column_is_optional():
    assert parse("S1,D,L,l@s.test\n", header="student_id,last_name,first_name,email\n").ok


def test_email_is_lowercased():
    assert parse("S1,D,L,Lea@School.TEST,A\n").students[0]["email"] == "lea@school.test"


def test_blank_lines_are_skipped():
    result = parse("S1,D,L,l@s.test,A\n,,,,\nS2,E,M,m@s.test,A\n")
    assert result.ok and len(result.students) == 2


def test_empty_file():
    result = parse_students_csv("   \n")
    assert [e.message for e in result.errors] == ["The file is empty."]


def test_missing_columns_are_named():
    result = parse_students_csv("student_id,name\nS1,Durand\n")
    assert len(result.errors) == 1
    assert result.errors[0].line == 1
    assert "last_name" in result.errors[0].message and "email" in result.errors[0].message


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        (",Durand,Léa,lea@s.test,A", "student_id", "empty"),
        ("S 1,Durand,Léa,lea@s.test,A", "student_id", "Invalid"),
        ("S1,,Léa,lea@s.test,A", "last_name", "empty"),
        ("S1,Durand,,lea@s.test,A", "first_name", "empty"),
        ("S1,Durand,Léa,not-an-email,A", "email", "Invalid email"),
        ("S1,Durand,Léa,lea@nodot,A", "email", "Invalid email"),
        ("S1," + "x" * 101 + ",Léa,lea@s.test,A", "last_name", "longer than 100"),
    ],
)
def test_bad_row_is_reported_with_line_and_column(row, column, fragment):
    result = parse("S0,Ok,Ok,ok@s.test,A\n" + row + "\n")
    assert [(e.line, e.column) for e in result.errors] == [(3, column)]
    assert fragment in result.errors[0].message
    assert [s["student_id"] for s in result.students] == ["S0"]


def test_duplicate_id_points_at_first_occurrence():
    result = parse("S1,A,B,a@s.test,A\nS2,C,D,c@s.test,A\nS1,E,F,e@s.test,A\n")
    assert len(result.errors) == 1
    assert result.errors[0].line == 4
    assert "first on line 2" in result.errors[0].message


def test_every_error_of_a_row_is_reported():
    result = parse(",,,bad,A\n")
    assert {e.column for e in result.errors} == {"student_id", "last_name", "first_name", "email"}


def test_too_many_fields():
    result = parse("S1,D,L,l@s.test,A,extra\n")
    assert result.errors[0].message == "Too many fields on this line."


def test_quoted_fields_with_commas():
    result = parse('S1,"Durand, Jr",Léa,lea@s.test,A\n')
    assert result.ok and result.students[0]["last_name"] == "Durand, Jr"
