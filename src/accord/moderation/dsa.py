"""DSA statements of reasons (Art. 17) in the EU Transparency Database's API form.

Field names and enumeration values are exactly those of the Transparency
Database API (``POST /api/v1/statement`` for one, ``POST /api/v1/statements``
with ``{"statements": [...]}`` for up to 100). A decision becomes a statement
through :func:`build_statement` (pure: the service passes the decision, its
policy and the restrictions it caused); :func:`validate_statement` checks a
statement against the API's documented rules (required and conditional fields,
enumerations, lengths, date forms, the puid alphabet) so that a platform learns
of a bad statement before the database answers 422; :func:`batches` cuts a
list into submission bodies.

No personal data enters a statement: no account ids, no reporter identities,
only the moderator's facts (which the platform must keep free of personal data).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

__all__ = [
    "ACCOUNT_TYPES",
    "AUTOMATED_DECISIONS",
    "CATEGORIES",
    "CONTENT_TYPES",
    "COUNTRIES",
    "DECISION_ACCOUNTS",
    "DECISION_GROUNDS",
    "DECISION_MONETARIES",
    "DECISION_PROVISIONS",
    "DECISION_VISIBILITIES",
    "KEYWORDS",
    "MAX_BATCH",
    "SOURCE_TYPES",
    "batches",
    "build_statement",
    "validate_statement",
]

MAX_BATCH = 100

DECISION_VISIBILITIES = frozenset(
    {
        "DECISION_VISIBILITY_CONTENT_REMOVED",
        "DECISION_VISIBILITY_CONTENT_DISABLED",
        "DECISION_VISIBILITY_CONTENT_DEMOTED",
        "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_LABELLED",
        "DECISION_VISIBILITY_OTHER",
    }
)
DECISION_MONETARIES = frozenset(
    {"DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"}
)
DECISION_PROVISIONS = frozenset(
    {
        "DECISION_PROVISION_PARTIAL_SUSPENSION",
        "DECISION_PROVISION_TOTAL_SUSPENSION",
        "DECISION_PROVISION_PARTIAL_TERMINATION",
        "DECISION_PROVISION_TOTAL_TERMINATION",
    }
)
DECISION_ACCOUNTS = frozenset({"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"})
ACCOUNT_TYPES = frozenset({"ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"})
DECISION_GROUNDS = frozenset(
    {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
)
CONTENT_TYPES = frozenset(
    {
        "CONTENT_TYPE_APP",
        "CONTENT_TYPE_AUDIO",
        "CONTENT_TYPE_IMAGE",
        "CONTENT_TYPE_PRODUCT",
        "CONTENT_TYPE_SYNTHETIC_MEDIA",
        "CONTENT_TYPE_TEXT",
        "CONTENT_TYPE_VIDEO",
        "CONTENT_TYPE_OTHER",
    }
)
CATEGORIES = frozenset(
    {
        "STATEMENT_CATEGORY_ANIMAL_WELFARE",
        "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
        "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
        "STATEMENT_CATEGORY_SELF_HARM",
        "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
        "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS",
        "STATEMENT_CATEGORY_VIOLENCE",
    }
)
KEYWORDS = frozenset(
    "KEYWORD_" + k
    for k in [
        "ANIMAL_HARM",
        "ADULT_SEXUAL_MATERIAL",
        "AGE_SPECIFIC_RESTRICTIONS_MINORS",
        "AGE_SPECIFIC_RESTRICTIONS",
        "BIOMETRIC_DATA_BREACH",
        "CHILD_SEXUAL_ABUSE_MATERIAL",
        "CONTENT_PROMOTING_EATING_DISORDERS",
        "COORDINATED_HARM",
        "COPYRIGHT_INFRINGEMENT",
        "DANGEROUS_TOYS",
        "DATA_FALSIFICATION",
        "DEFAMATION",
        "DESIGN_INFRINGEMENT",
        "DISCRIMINATION",
        "DISINFORMATION",
        "FOREIGN_INFORMATION_MANIPULATION",
        "GENDER_BASED_VIOLENCE",
        "GEOGRAPHIC_INDICATIONS_INFRINGEMENT",
        "GEOGRAPHICAL_REQUIREMENTS",
        "GOODS_SERVICES_NOT_PERMITTED",
        "GROOMING_SEXUAL_ENTICEMENT_MINORS",
        "HATE_SPEECH",
        "HUMAN_EXPLOITATION",
        "HUMAN_TRAFFICKING",
        "ILLEGAL_ORGANIZATIONS",
        "IMAGE_BASED_SEXUAL_ABUSE",
        "IMPERSONATION_ACCOUNT_HIJACKING",
        "INAUTHENTIC_ACCOUNTS",
        "INAUTHENTIC_LISTINGS",
        "INAUTHENTIC_USER_REVIEWS",
        "INCITEMENT_VIOLENCE_HATRED",
        "INSUFFICIENT_INFORMATION_TRADERS",
        "LANGUAGE_REQUIREMENTS",
        "MISINFORMATION",
        "MISSING_PROCESSING_GROUND",
        "NON_CONSENSUAL_IMAGE_SHARING",
        "NON_CONSENSUAL_ITEMS_DEEPFAKE",
        "NUDITY",
        "ONLINE_BULLYING_INTIMIDATION",
        "PATENT_INFRINGEMENT",
        "PHISHING",
        "PYRAMID_SCHEMES",
        "REGULATED_GOODS_SERVICES",
        "RIGHT_TO_BE_FORGOTTEN",
        "RISK_ENVIRONMENTAL_DAMAGE",
        "RISK_PUBLIC_HEALTH",
        "SELF_MUTILATION",
        "STALKING",
        "SUICIDE",
        "TERRORIST_CONTENT",
        "TRADE_SECRET_INFRINGEMENT",
        "TRADEMARK_INFRINGEMENT",
        "UNLAWFUL_SALE_ANIMALS",
        "UNSAFE_CHALLENGES",
        "OTHER",
    ]
)
SOURCE_TYPES = frozenset(
    {
        "SOURCE_ARTICLE_16",
        "SOURCE_TRUSTED_FLAGGER",
        "SOURCE_TYPE_OTHER_NOTIFICATION",
        "SOURCE_VOLUNTARY",
    }
)
AUTOMATED_DECISIONS = frozenset(
    {"AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED"}
)
YES_NO = frozenset({"Yes", "No"})
# EU member states and the EEA countries (Iceland, Liechtenstein, Norway).
_EU = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
COUNTRIES = frozenset(f"{_EU} IS LI NO".split(" "))

# accord's vocabularies -> the API's.
VISIBILITY_OF_ACTION = {
    "remove": "DECISION_VISIBILITY_CONTENT_REMOVED",
    "disable": "DECISION_VISIBILITY_CONTENT_DISABLED",
    "demote": "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "age_restrict": "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "label": "DECISION_VISIBILITY_CONTENT_LABELLED",
    "restrict_interaction": "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
}
CONTENT_TYPE_OF = {
    "text": "CONTENT_TYPE_TEXT",
    "image": "CONTENT_TYPE_IMAGE",
    "video": "CONTENT_TYPE_VIDEO",
    "audio": "CONTENT_TYPE_AUDIO",
    "synthetic_media": "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "app": "CONTENT_TYPE_APP",
    "product": "CONTENT_TYPE_PRODUCT",
    "livestream": "CONTENT_TYPE_VIDEO",
}
SOURCE_TYPE_OF = {
    "trusted_flagger": "SOURCE_TRUSTED_FLAGGER",
    "user": "SOURCE_ARTICLE_16",
    "automated": "SOURCE_VOLUNTARY",
}
_PUID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def build_statement(
    *,
    puid: str,
    action: str,
    sources: Sequence[str],
    automated_detection: bool,
    automated_decision: str,
    policy: Mapping[str, Any],
    facts: str,
    content_type: str | None,
    content_date: date,
    application_date: date,
    territorial_scope: Sequence[str],
    restrictions: Sequence[Mapping[str, Any]] = (),
    content_language: str | None = None,
) -> dict[str, Any]:
    """The statement of reasons of one decision, in the API's submission form.

    ``restrictions`` are account consequences: ``{"kind": "feature"|"suspension"|
    "termination", "ends": date | None}``. ``policy`` carries ``ground`` (law or
    terms), ``legal_ground``, ``title``, ``url``, ``dsa_category``, ``dsa_keywords``.
    """
    statement: dict[str, Any] = {}
    if action in VISIBILITY_OF_ACTION:
        statement["decision_visibility"] = [VISIBILITY_OF_ACTION[action]]
    for r in restrictions:
        ends = r.get("ends")
        if r["kind"] == "termination":
            statement["decision_account"] = "DECISION_ACCOUNT_TERMINATED"
            statement.pop("end_date_account_restriction", None)
        elif r["kind"] == "suspension" and statement.get("decision_account") is None:
            statement["decision_account"] = "DECISION_ACCOUNT_SUSPENDED"
            statement["end_date_account_restriction"] = ends.isoformat() if ends else None
        elif r["kind"] == "feature":
            statement["decision_provision"] = "DECISION_PROVISION_PARTIAL_SUSPENSION"
            statement["end_date_service_restriction"] = ends.isoformat() if ends else None
    if policy["ground"] == "law":
        statement["decision_ground"] = "DECISION_GROUND_ILLEGAL_CONTENT"
        statement["illegal_content_legal_ground"] = _clip(policy.get("legal_ground") or "", 500)
        statement["illegal_content_explanation"] = _clip(facts, 2000)
    else:
        statement["decision_ground"] = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        statement["incompatible_content_ground"] = _clip(f"{policy['title']} ({policy['id']})", 500)
        statement["incompatible_content_explanation"] = _clip(facts, 2000)
        statement["incompatible_content_illegal"] = "No"
    if policy.get("url"):
        statement["decision_ground_reference_url"] = policy["url"]
    api_type = CONTENT_TYPE_OF.get(content_type or "")
    if api_type is None:
        statement["content_type"] = ["CONTENT_TYPE_OTHER"]
        statement["content_type_other"] = _clip(content_type or "account", 500)
    else:
        statement["content_type"] = [api_type]
    statement["category"] = policy["dsa_category"]
    if policy.get("dsa_keywords"):
        statement["category_specification"] = sorted(policy["dsa_keywords"])
    statement["territorial_scope"] = sorted(territorial_scope)
    if content_language:
        statement["content_language"] = content_language.upper()
    statement["content_date"] = content_date.isoformat()
    statement["application_date"] = application_date.isoformat()
    statement["decision_facts"] = _clip(facts, 5000)
    statement["source_type"] = _source_type(sources)
    statement["automated_detection"] = "Yes" if automated_detection else "No"
    statement["automated_decision"] = automated_decision
    statement["puid"] = puid
    return statement


def _source_type(sources: Sequence[str]) -> str:
    for source in ("trusted_flagger", "user", "automated"):
        if source in sources:
            return SOURCE_TYPE_OF[source]
    return "SOURCE_VOLUNTARY"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def validate_statement(s: Mapping[str, Any]) -> list[str]:
    """Problems with a statement under the API's documented rules (empty: valid)."""
    problems: list[str] = []

    def need(field: str) -> Any:
        value = s.get(field)
        if value in (None, "", []):
            problems.append(f"{field} is required")
        return value

    def one_of(field: str, allowed: frozenset[str], *, required: bool = False) -> None:
        value = s.get(field)
        if value is None:
            if required:
                problems.append(f"{field} is required")
            return
        if value not in allowed:
            problems.append(f"{field}: {value!r} is not an allowed value")

    def many_of(field: str, allowed: frozenset[str], *, required: bool = False) -> list[Any]:
        value = s.get(field)
        if value is None:
            if required:
                problems.append(f"{field} is required")
            return []
        if not isinstance(value, list) or not value:
            problems.append(f"{field} must be a non-empty array")
            return []
        for item in value:
            if item not in allowed:
                problems.append(f"{field}: {item!r} is not an allowed value")
        return value

    def text(field: str, limit: int, *, required: bool = False) -> None:
        value = s.get(field)
        if value is None:
            if required:
                problems.append(f"{field} is required")
            return
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{field} must be a non-empty string")
        elif len(value) > limit:
            problems.append(f"{field} is longer than {limit} characters")

    known = {
        "decision_visibility", "decision_visibility_other", "decision_monetary",
        "decision_monetary_other", "decision_provision", "decision_account", "account_type",
        "decision_ground", "decision_ground_reference_url", "illegal_content_legal_ground",
        "illegal_content_explanation", "incompatible_content_ground",
        "incompatible_content_explanation", "incompatible_content_illegal", "content_type",
        "content_type_other", "category", "category_addition", "category_specification",
        "category_specification_other", "territorial_scope", "content_language",
        "content_date", "application_date", "end_date_account_restriction",
        "end_date_monetary_restriction", "end_date_service_restriction",
        "end_date_visibility_restriction", "decision_facts", "source_type", "source_identity",
        "automated_detection", "automated_decision", "puid",
    }  # fmt: skip
    for field in s:
        if field not in known:
            problems.append(f"{field} is not a field of the statements API")

    if not any(
        s.get(f) for f in ("decision_visibility", "decision_monetary", "decision_provision",
                           "decision_account")
    ):  # fmt: skip
        problems.append(
            "one of decision_visibility, decision_monetary, decision_provision, "
            "decision_account is required"
        )
    visibility = many_of("decision_visibility", DECISION_VISIBILITIES)
    if "DECISION_VISIBILITY_OTHER" in visibility:
        text("decision_visibility_other", 500, required=True)
    one_of("decision_monetary", DECISION_MONETARIES)
    if s.get("decision_monetary") == "DECISION_MONETARY_OTHER":
        text("decision_monetary_other", 500, required=True)
    one_of("decision_provision", DECISION_PROVISIONS)
    one_of("decision_account", DECISION_ACCOUNTS)
    one_of("account_type", ACCOUNT_TYPES)
    one_of("decision_ground", DECISION_GROUNDS, required=True)
    if s.get("decision_ground") == "DECISION_GROUND_ILLEGAL_CONTENT":
        text("illegal_content_legal_ground", 500, required=True)
        text("illegal_content_explanation", 2000, required=True)
    if s.get("decision_ground") == "DECISION_GROUND_INCOMPATIBLE_CONTENT":
        text("incompatible_content_ground", 500, required=True)
        text("incompatible_content_explanation", 2000, required=True)
    one_of("incompatible_content_illegal", YES_NO)
    types = many_of("content_type", CONTENT_TYPES, required=True)
    if "CONTENT_TYPE_OTHER" in types:
        text("content_type_other", 500, required=True)
    one_of("category", CATEGORIES, required=True)
    many_of("category_addition", CATEGORIES)
    keywords = many_of("category_specification", KEYWORDS)
    if "KEYWORD_OTHER" in keywords:
        text("category_specification_other", 500)
    many_of("territorial_scope", COUNTRIES, required=True)
    language = s.get("content_language")
    if language is not None and not (
        isinstance(language, str) and len(language) == 2 and language.isupper()
    ):
        problems.append("content_language must be an uppercase ISO 639-1 code")
    content_date = _date(need("content_date"))
    if s.get("content_date") and (content_date is None or content_date < date(2000, 1, 1)):
        problems.append("content_date must be YYYY-MM-DD on or after 2000-01-01")
    application = _date(need("application_date"))
    if s.get("application_date") and (application is None or application < date(2020, 1, 1)):
        problems.append("application_date must be YYYY-MM-DD on or after 2020-01-01")
    for field in (
        "end_date_account_restriction",
        "end_date_monetary_restriction",
        "end_date_service_restriction",
        "end_date_visibility_restriction",
    ):
        if s.get(field) is None:
            continue
        end = _date(s[field])
        if end is None:
            problems.append(f"{field} must be YYYY-MM-DD")
        elif application is not None and end < application:
            problems.append(f"{field} is before application_date")
    text("decision_facts", 5000, required=True)
    one_of("source_type", SOURCE_TYPES, required=True)
    text("source_identity", 500)
    one_of("automated_detection", YES_NO, required=True)
    one_of("automated_decision", AUTOMATED_DECISIONS, required=True)
    puid = need("puid")
    if puid and not (isinstance(puid, str) and _PUID.match(puid)):
        problems.append("puid must be 1-500 characters of a-z, A-Z, 0-9, '-' and '_'")
    return problems


def batches(
    statements: Sequence[Mapping[str, Any]], size: int = MAX_BATCH
) -> Iterator[dict[str, Any]]:
    """Submission bodies of the multiple endpoint: ``{"statements": [...]}``, at most 100 each."""
    if not 1 <= size <= MAX_BATCH:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH}")
    for start in range(0, len(statements), size):
        yield {"statements": [dict(s) for s in statements[start : start + size]]}
