"""The e-learning team's dashboard: charts with their numbers as tables, CSV exports."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hub.business_hours import local_day
from hub.errors import InvalidInput
from hub.i18n import LOCALES, N_, Message, translations
from hub.i18n import translate as translate_message
from hub.models import TEAM
from hub.people import require_role
from hub.reporting import charts, dashboard
from hub.web.deps import CurrentUser, SessionDep, SettingsDep
from hub.web.rendering import render

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


def _chart(table: dashboard.Table, translate: Callable[[str], str]) -> object:
    """The chart drawn for a table (None: the table alone says it best)."""
    title = translate(table.title)
    if table.key == "visits":
        roles = table.labels[1:-1]
        return charts.stacked_bars(
            title,
            [row[0][5:] for row in table.rows],  # type: ignore[index]
            [
                charts.Series(translate(role), [float(row[1 + i]) for row in table.rows])  # type: ignore[arg-type]
                for i, role in enumerate(roles)
            ],
            summary=translate(
                Message(
                    N_("%(views)s pages vues du %(start)s au %(end)s"),
                    views=sum(int(row[-1]) for row in table.rows),  # type: ignore[call-overload]
                    start=table.rows[0][0],
                    end=table.rows[-1][0],
                )
            )
            if table.rows
            else translate(N_("aucune donnée")),
        )
    if table.key not in dashboard.BAR_CHARTS or not table.rows:
        return None
    label, value = dashboard.BAR_CHARTS[table.key]
    items = [(str(row[label]), float(row[value])) for row in table.rows]  # type: ignore[arg-type]
    return charts.horizontal_bars(
        title,
        items,
        summary="; ".join(f"{name} : {number:g}" for name, number in items[:10]),
    )


@router.get("", name="dashboard")
def dashboard_page(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    start: str = "",
    end: str = "",
    department: str = "",
) -> Response:
    require_role(user, *TEAM)
    errors: dict[str, str] = {}
    try:
        period = dashboard.parse_period(
            db, start, end, department, today=local_day(), settings=settings
        )
    except InvalidInput as exc:
        errors = exc.fields
        period = dashboard.parse_period(db, "", "", "", today=local_day(), settings=settings)
    tables = dashboard.compute(db, period, actor=user)
    catalog = translations(getattr(request.state, "locale", LOCALES[0]))
    return render(
        request,
        "dashboard/index.html",
        {
            "period": period,
            "sections": [
                (table, _chart(table, partial(translate_message, catalog))) for table in tables
            ],
            "departments": dashboard.department_codes(db),
            "form": {"start": start, "end": end, "department": department},
            "errors": errors,
            "query": request.url.query,
        },
        status=422 if errors else 200,
    )


@router.get("/{key}.csv", name="dashboard_csv")
def dashboard_csv(
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    key: str,
    start: str = "",
    end: str = "",
    department: str = "",
) -> Response:
    require_role(user, *TEAM)
    period = dashboard.parse_period(
        db, start, end, department, today=local_day(), settings=settings
    )
    table = dashboard.compute_one(db, key, period, actor=user)
    name = f"{key}_{period.start.isoformat()}_{period.end.isoformat()}"
    if period.department is not None:
        name += f"_{period.department.code}"
    return Response(
        "\ufeff" + table.csv(),  # BOM: Excel opens UTF-8 with accents correctly
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
