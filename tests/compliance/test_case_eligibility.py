"""A case's eligibility takes its salary option from the facts recorded on it (facts §3.4)."""

from __future__ import annotations

from tests.support.casework import Casework


async def test_an_artist_case_on_the_immigration_salary_list_can_have_its_cos_requested(work: Casework) -> None:
    case = await work.create(soc_code="3411", job_title="Artist", salary="38200.00", inside_uk=False)
    assert (case["eligibility_status"], case["salary_option"]) == ("eligible", "immigration_salary_list")
    assert (await work.ok(case["id"], "request_cos"))["state"] == "cos_requested"


async def test_a_programmer_aged_24_is_judged_as_a_new_entrant_from_the_date_of_birth(work: Casework) -> None:
    # 2134: new-entrant rate £38,300; the standard option needs £54,700.
    young = await work.create(salary="40000.00", date_of_birth="2001-06-01", inside_uk=False)
    assert (young["eligibility_status"], young["salary_option"]) == ("eligible", "new_entrant")
    older = await work.create(salary="40000.00", date_of_birth="1990-06-01", inside_uk=False, external_id="x-2")
    assert (older["eligibility_status"], older["salary_option"]) == ("ineligible", "standard")
    hints = older["eligibility"]["to_pass"]
    assert hints[0].startswith("raise the salary to £54,700.00")
    r = await work.client.patch(
        f"/v1/hires/{older['id']}",
        json={"switching_from_student_or_graduate": True},
        headers=work.headers(**{"If-Match": work.etags[older["id"]]}),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["eligibility_status"], r.json()["salary_option"]) == ("eligible", "new_entrant")
