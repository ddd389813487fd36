"""The points for a correct answer are part of an exam's definition: stored, validated,
read back, and filled in by the builder's form."""

from zoneinfo import ZoneInfo

import pytest

from exam.cat.blueprint import BlueprintError, ExamConfig, SectionConfig
from exam.usecases.builder import FormError, exam_form_fields, read_exam_form
from exam.usecases.demo import demo_exam

TZ = ZoneInfo("Asia/Jakarta")
FORM = {
    "code": "UJI",
    "title": "Uji",
    "duration_minutes": "60",
    "sections": "1",
    "s1_name": "TIU",
    "s1_domain": "TIU",
    "s1_max_items": "10",
}


def config(points: int) -> ExamConfig:
    return ExamConfig("UJI", "Uji", (SectionConfig("TIU", "TIU"),), 3600, points_correct=points)


def test_the_points_round_trip_and_older_definitions_mean_five():
    assert ExamConfig.from_dict(config(4).to_dict()).points_correct == 4
    older = config(5).to_dict()
    del older["points_correct"]
    assert ExamConfig.from_dict(older).points_correct == 5


@pytest.mark.parametrize("points", [0, -1, 101, 2.5, True])
def test_points_out_of_range_are_refused(points):
    with pytest.raises(BlueprintError, match="points_correct"):
        config(points).validate()


def test_the_builder_reads_shows_and_defaults_the_points():
    form = read_exam_form(FORM | {"points_correct": "3"}, {"TIU"}, TZ, points_default=5)
    assert form.config.points_correct == 3
    assert exam_form_fields(form.config, None, None, TZ)["points_correct"] == "3"
    assert read_exam_form(FORM, {"TIU"}, TZ, points_default=4).config.points_correct == 4
    # Editing a draft keeps its points when the field is left out.
    edited = read_exam_form(FORM, {"TIU"}, TZ, config(7), points_default=4)
    assert edited.config.points_correct == 7
    with pytest.raises(FormError) as bad:
        read_exam_form(FORM | {"points_correct": "0"}, {"TIU"}, TZ, points_default=5)
    assert set(bad.value.errors) == {"points_correct"}


def test_the_demo_exam_takes_the_configured_points():
    assert demo_exam(4).points_correct == 4
    demo_exam(4).validate()
