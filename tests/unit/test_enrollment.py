"""Enrollment files: rows, attributes, accommodations and every problem with its line."""

import pytest

from exam.usecases.enrollment import new_password, read_enrollment_csv

HEADER = "registration_number,name,formation,track,extra_time_minutes,gender,region\n"


def test_rows_with_attributes_and_extra_time():
    data = (
        HEADER
        + "R-001,Siti Aminah,Analis,,15,P,Papua\n"
        + 'R-002,"Budi, S.T.",Auditor,disabilitas,,L,\n'
    ).encode()
    rows, problems = read_enrollment_csv(data, "peserta.csv")
    assert problems == []
    first, second = rows
    assert (first.registration_number, first.extra_time_s) == ("R-001", 900)
    assert first.attributes == {"gender": "P", "region": "Papua"}
    assert second.name == "Budi, S.T." and second.track == "disabilitas"
    assert second.attributes == {"gender": "L"} and second.line == 3


@pytest.mark.parametrize(
    "body,expected",
    [
        ("R-1,,Analis,,,P,X\n", "peserta.csv:2: name: empty name"),
        ("R 1,Siti,Analis,,,P,X\n", "peserta.csv:2: registration_number: 'R 1' must be"),
        (
            "R-1,Siti,Analis,,,P,X\nR-1,Budi,Analis,,,L,X\n",
            "peserta.csv:3: registration_number: duplicate of line 2",
        ),
        ("R-1,Siti,Analis,,lima,P,X\n", "peserta.csv:2: extra_time_minutes: 'lima' is not"),
        ("R-1,Siti\n", "peserta.csv:2: 2 fields, the header has 7"),
    ],
)
def test_every_problem_names_its_line_and_column(body, expected):
    _rows, problems = read_enrollment_csv((HEADER + body).encode(), "peserta.csv")
    assert any(expected in str(p) for p in problems), [str(p) for p in problems]


def test_header_problems():
    _, problems = read_enrollment_csv(b"nama,formasi\nA,B\n", "p.csv")
    assert {p.field for p in problems} == {"registration_number", "name", "formation"}
    _, problems = read_enrollment_csv(b"", "p.csv")
    assert "empty file" in str(problems[0])


def test_passwords_are_random_and_readable():
    words = {new_password() for _ in range(50)}
    assert len(words) == 50
    assert all(len(w) == 10 and not set(w) & set("01ilo") for w in words)


def test_site_and_room_columns_are_optional_and_checked():
    data = (
        b"registration_number,name,formation,site,room\n"
        b"R-1,Siti,Analis,SMKN 1 Jayapura,Lab 2\n"
        b"R-2,Budi,Analis,,\n"
        b"R-3,Ani,Analis,,Lab 3\n"
        b"R-4,Dodi,Analis,Kantor;DROP,Lab 1\n"
    )
    rows, problems = read_enrollment_csv(data, "peserta.csv")
    assert [str(p) for p in problems] == [
        "peserta.csv:4: site: a room is given without its site",
        "peserta.csv:5: site: 'Kantor;DROP' must be 1–64 letters, digits, spaces or . _ - /",
    ]
    assert [(r.site, r.room) for r in rows] == [("SMKN 1 Jayapura", "Lab 2"), ("", "")]
    assert rows[0].attributes == {}  # site and room are no group attributes
