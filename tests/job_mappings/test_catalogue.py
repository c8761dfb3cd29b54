"""Importing an HRIS job catalogue: jobs sent with a SOC code are mapped, the others come back with
suggestions from the occupations data, none applied; one bad SOC code refuses the whole list."""

from __future__ import annotations

from httpx import AsyncClient

from tests.support.tenants import Tenant

# A customer-service job family as an HRIS exports it: codes, titles, grades.
CUSTOMER_SERVICE = [
    {"hris_job_code": "AUN04790", "job_title": "Customer Service Advisor", "grade": "G2", "soc_code": "7219"},
    {"hris_job_code": "AUN04791", "job_title": "Senior Customer Service Advisor", "grade": "G3", "soc_code": "7219"},
    {"hris_job_code": "AUN04792", "job_title": "Customer Service Unit Supervisor", "grade": "G4", "soc_code": "7220"},
    {"hris_job_code": "AUN04793", "job_title": "Customer Service Manager", "grade": "G5"},
]


async def test_a_catalogue_maps_the_coded_jobs_and_suggests_for_the_rest(client: AsyncClient, tenant: Tenant) -> None:
    r = await client.put("/v1/job-mappings", json=CUSTOMER_SERVICE, headers=tenant.headers("hr"))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [(m["hris_job_code"], m["soc_code"], m["grade"]) for m in answer["mapped"]] == [
        ("AUN04790", "7219", "G2"),
        ("AUN04791", "7219", "G3"),
        ("AUN04792", "7220", "G4"),
    ]
    assert answer["mapped"][2]["occupation_title"].lower().startswith("customer service supervisors")
    (unmapped,) = answer["unmapped"]
    assert unmapped["hris_job_code"] == "AUN04793" and unmapped["suggestions"]
    assert unmapped["suggestions"][0] == {
        "soc_code": "4143",
        "title": "Customer service managers",
        "skill_band": unmapped["suggestions"][0]["skill_band"],
        "match": "all_words",
    }
    listed = (await client.get("/v1/job-mappings", headers=tenant.headers("viewer"))).json()["data"]
    assert [m["hris_job_code"] for m in listed] == ["AUN04790", "AUN04791", "AUN04792"]


async def test_a_reimport_replaces_the_mappings_it_names(client: AsyncClient, tenant: Tenant) -> None:
    await client.put("/v1/job-mappings", json=CUSTOMER_SERVICE[:2], headers=tenant.headers("hr"))
    again = [CUSTOMER_SERVICE[0] | {"soc_code": "7220", "grade": "G3"}]
    r = await client.put("/v1/job-mappings", json=again, headers=tenant.headers("hr"))
    assert [(m["soc_code"], m["grade"]) for m in r.json()["mapped"]] == [("7220", "G3")]
    got = (await client.get("/v1/job-mappings/AUN04790", headers=tenant.headers("viewer"))).json()
    assert (got["soc_code"], got["grade"]) == ("7220", "G3")
    assert len((await client.get("/v1/job-mappings", headers=tenant.headers("viewer"))).json()["data"]) == 2


async def test_one_unknown_soc_code_or_a_repeated_code_refuses_the_whole_list(
    client: AsyncClient, tenant: Tenant
) -> None:
    bad = [*CUSTOMER_SERVICE[:2], {"hris_job_code": "X1", "soc_code": "0000"}, CUSTOMER_SERVICE[0]]
    r = await client.put("/v1/job-mappings", json=bad, headers=tenant.headers("hr"))
    assert r.status_code == 422, r.text
    assert sorted(tuple(e["loc"]) for e in r.json()["errors"]) == [
        ("body", 2, "soc_code"),
        ("body", 3, "hris_job_code"),
    ]
    assert (await client.get("/v1/job-mappings", headers=tenant.headers("viewer"))).json()["data"] == []
    assert (await client.put("/v1/job-mappings", json=[], headers=tenant.headers("hr"))).status_code == 422
    viewer = await client.put("/v1/job-mappings", json=CUSTOMER_SERVICE, headers=tenant.headers("viewer"))
    assert viewer.status_code == 403


async def test_suggestions_rank_soc_candidates_for_a_title_without_mapping_anything(
    client: AsyncClient, tenant: Tenant
) -> None:
    r = await client.get(
        "/v1/job-mappings/suggestions",
        params={"title": "Customer Service Unit Supervisor"},
        headers=tenant.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"][0]["soc_code"] == "7220"
    assert {"soc_code", "title", "skill_band", "match"} <= set(r.json()["data"][0])
    assert (await client.get("/v1/job-mappings", headers=tenant.headers("viewer"))).json()["data"] == []
    missing = await client.get("/v1/job-mappings/suggestions", headers=tenant.headers("viewer"))
    assert missing.status_code == 422
