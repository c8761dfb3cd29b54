"""Every table, imported in one place so alembic and tests see the whole schema."""

from app.api import models as _api_models  # noqa: F401
from app.db.base import Base
from app.organisations import models as _organisation_models  # noqa: F401

metadata = Base.metadata
