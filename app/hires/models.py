from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.folding import fold_writes


class Hire(Base):
    """One sponsored hire: the worker, the job, and where the case stands in the hire workflow."""

    __tablename__ = "hires"
    __table_args__ = (
        UniqueConstraint("organisation_id", "external_id"),
        Index("ix_hires_org_state", "organisation_id", "state", "id"),
        # The list's own order (GET /v1/hires pages by id within the organisation).
        Index("ix_hires_org_id", "organisation_id", "id"),
        Index("ix_hires_org_updated", "organisation_id", "updated_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer)

    # The worker
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    nationality: Mapped[str | None] = mapped_column(String(3))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(254))
    inside_uk: Mapped[bool | None] = mapped_column(Boolean)
    held_skilled_worker_permission_before_2025_07_22: Mapped[bool] = mapped_column(Boolean, default=False)
    first_sponsored_before_2024_04_04: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the new-entrant and PhD salary options depend on (with the date of birth)
    # (server defaults fill the rows that existed before these columns)
    switching_from_student_or_graduate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    working_towards_professional_qualification: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    postdoctoral_role: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    phd: Mapped[str] = mapped_column(String(20), default="none", server_default="none")

    # The job
    job_title: Mapped[str | None] = mapped_column(String(200))
    soc_code: Mapped[str | None] = mapped_column(String(4), index=True)
    hris_job_code: Mapped[str | None] = mapped_column(String(100))
    salary: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    weekly_hours: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    salary_option: Mapped[str | None] = mapped_column(String(30))  # the option the eligibility answer names
    start_date: Mapped[date | None] = mapped_column(Date, index=True)
    work_location: Mapped[str | None] = mapped_column(String(200))
    work_nation: Mapped[str | None] = mapped_column(String(30))

    # Eligibility, recomputed whenever the job, pay, hours or dates change
    eligibility_status: Mapped[str | None] = mapped_column(String(20))
    eligibility: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # CoS, visa, right to work, employment
    cos_type: Mapped[str | None] = mapped_column(String(10))
    cos_reference: Mapped[str | None] = mapped_column(String(20))
    cos_requested_on: Mapped[date | None] = mapped_column(Date)
    cos_granted_on: Mapped[date | None] = mapped_column(Date)
    cos_assigned_on: Mapped[date | None] = mapped_column(Date)
    cos_salary: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))  # as stated on the CoS when assigned
    # An employed worker's new CoS (extension or change of employment), kept apart until the new
    # permission is granted: the current job and CoS stay in force until then.
    pending_cos: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    isc_refundable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    uses_allocation: Mapped[bool] = mapped_column(Boolean, default=False)
    visa_service: Mapped[str | None] = mapped_column(String(20))
    visa_applied_on: Mapped[date | None] = mapped_column(Date)
    visa_granted_on: Mapped[date | None] = mapped_column(Date)
    permission_start_date: Mapped[date | None] = mapped_column(Date)
    permission_end_date: Mapped[date | None] = mapped_column(Date)
    rtw_method: Mapped[str | None] = mapped_column(String(10))
    rtw_check_date: Mapped[date | None] = mapped_column(Date)
    rtw_share_code: Mapped[str | None] = mapped_column(String(20))
    actual_start_date: Mapped[date | None] = mapped_column(Date)
    # Reportable once counted past their thresholds: the open absence and the unpaid leave recorded,
    # as [first day, last day or null] pairs of ISO dates.
    absent_since: Mapped[date | None] = mapped_column(Date)
    unpaid_leave: Mapped[list[list[str | None]] | None] = mapped_column(JSON)
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(500))

    # When the case entered its current state: how long it has been there (the compliance summary).
    state_entered_at: Mapped[datetime]

    # Records retention: a legal hold keeps the personal fields past the retention date.
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    legal_hold_reason: Mapped[str | None] = mapped_column(String(500))
    legal_hold_since: Mapped[datetime | None]
    personal_data_erased_at: Mapped[datetime | None]

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def worker_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def new_cos_assigned_on(self) -> date | None:
        """The assignment date of the new CoS pending for an employed worker."""
        return date.fromisoformat(self.pending_cos["assigned_on"]) if self.pending_cos else None


# Plain rows: an action's writes of them go out with its audit append, in one statement (app.db.folding).
fold_writes(Hire)
