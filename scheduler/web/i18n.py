"""German and English words of the pages (German by default; ``?lang=en`` switches).

Keys are English phrases; a missing German entry falls back to the key, so an untranslated
label shows up in English rather than as a code.
"""

from __future__ import annotations

LANGUAGES = ("de", "en")

DE: dict[str, str] = {
    "Today": "Heute",
    "Day plan": "Tagesplan",
    "History and audit": "Verlauf und Prüfpfad",
    "Scenarios": "Szenarien",
    "Approvals": "Freigaben",
    "Overrides": "Übersteuerungen",
    "Alarms": "Alarme",
    "Users": "Benutzer",
    "Log in": "Anmelden",
    "Log out": "Abmelden",
    "User name": "Benutzername",
    "Password": "Passwort",
    "Wrong user name or password": "Benutzername oder Passwort falsch",
    "Plan versus actual": "Plan und Ist",
    "plan": "Plan",
    "actual": "Ist",
    "Current interval": "Aktuelles Intervall",
    "Current setpoints": "Aktuelle Sollwerte",
    "Storage levels": "Speicherstände",
    "Grid import and the year's peak": "Netzbezug und Jahreshöchstlast",
    "Peak so far this year": "Bisherige Jahreshöchstlast",
    "Prices and marginal prices": "Preise und Grenzkosten",
    "Active alarms": "Aktive Alarme",
    "Mode": "Betriebsart",
    "Fallback ladder": "Rückfallstufe",
    "Hand back to local control": "An lokale Steuerung zurückgeben",
    "Resume optimised control": "Optimierte Steuerung wieder aufnehmen",
    "Reason": "Begründung",
    "I confirm": "Ich bestätige",
    "Confirm": "Bestätigen",
    "Submit": "Absenden",
    "No plan covers this time.": "Kein Plan deckt diesen Zeitpunkt ab.",
    "No alarms.": "Keine Alarme.",
    "None.": "Keine.",
    "Date": "Datum",
    "Show": "Anzeigen",
    "Interval": "Intervall",
    "Stacked dispatch": "Einsatz (gestapelt)",
    "Unit on/off": "Anlagen ein/aus",
    "Cost breakdown": "Kostenaufteilung",
    "Plan versions of the day": "Planversionen des Tages",
    "What changed": "Was sich geändert hat",
    "Why each unit runs or not": "Warum jede Anlage läuft oder nicht",
    "Marginal prices": "Grenzkosten",
    "No binding limit in this interval.": "In diesem Intervall ist keine Grenze bindend.",
    "What was read": "Was gemessen wurde",
    "What was planned": "Was geplant war",
    "What was approved": "Was freigegeben wurde",
    "What was written": "Was geschrieben wurde",
    "Audit trail": "Prüfpfad",
    "Export CSV": "CSV exportieren",
    "Time": "Zeit",
    "Kind": "Art",
    "What": "Was",
    "By": "Von",
    "Value": "Wert",
    "Result": "Ergebnis",
    "Status": "Status",
    "Origin": "Herkunft",
    "Cost": "Kosten",
    "Version": "Version",
    "Approve": "Freigeben",
    "Reject": "Ablehnen",
    "approved": "freigegeben",
    "rejected": "abgelehnt",
    "awaiting decision": "wartet auf Entscheidung",
    "Acknowledge": "Quittieren",
    "acknowledged": "quittiert",
    "Severity": "Schwere",
    "Source": "Quelle",
    "Message": "Meldung",
    "Target": "Ziel",
    "Valid from": "Gültig ab",
    "Valid to": "Gültig bis",
    "End": "Beenden",
    "New override": "Neue Übersteuerung",
    "Active overrides": "Aktive Übersteuerungen",
    "Role": "Rolle",
    "Name": "Name",
    "Since": "Seit",
    "Report": "Bericht",
    "Started": "Gestartet",
    "not available yet": "noch nicht verfügbar",
    "read-only": "nur lesen",
    "The running control loop picks this up at its next cycle.": (
        "Die laufende Regelschleife übernimmt das im nächsten Zyklus."
    ),
    "Release requested": "Rückgabe angefordert",
    "Point": "Datenpunkt",
    "Planned now": "Jetzt geplant",
    "Last written": "Zuletzt geschrieben",
    "Confirmation": "Bestätigung",
    "Language": "Sprache",
    "Total": "Summe",
    "approvals-note": (
        "Im Prüfmodus wird der Plan eines Tages freigegeben (scheduler.review): Neuplanungen "
        "innerhalb des freigegebenen Rahmens gehen hinaus, ein abgelehnter Plan nicht."
    ),
    "overrides-note": (
        "Jede Übersteuerung wird zuerst in einem Probeplan versucht: bleibt dabei Bedarf "
        "ungedeckt oder N-1 ungesichert, wird sie mit Begründung abgelehnt."
    ),
    "overrides-unavailable": (
        "Übersteuerungen sind hier noch nicht verfügbar: ihr Probeplan braucht die "
        "Standortdatei (ENERGIEMODELL_WEB_SITE). Bitte `energiemodell override add` verwenden."
    ),
    "mode-note": (
        "Betriebsart: die Einstellung des Standorts, wie sie mit dem Plan gespeichert ist; eine "
        "Übersteuerung mit --mode in der laufenden Regelschleife steht nicht im Speicher. "
        "Rückfallstufe: abgeleitet aus den Alarmen und dem Plan des neuesten Zyklus im Speicher."
    ),
    "prices-note": (
        "Veröffentlichte Day-Ahead-Preise sind Eingaben der Prognose und werden hier noch nicht "
        "gezeigt (noch nicht verfügbar); die Linien sind die Grenzkosten des Plans."
    ),
}


EN: dict[str, str] = {
    "approvals-note": (
        "Review mode approves the plan of a day (scheduler.review): re-plans inside the approved "
        "plan's envelope are dispatched; a rejected plan is not."
    ),
    "overrides-note": (
        "Every override is first tried in a plan: one that leaves demand unserved or N-1 "
        "unsecured is refused, with the reason."
    ),
    "overrides-unavailable": (
        "Overrides are not available here yet: their trial plan needs the site file "
        "(ENERGIEMODELL_WEB_SITE). Use `energiemodell override add`."
    ),
    "mode-note": (
        "Mode: the site's setting as stored with the plan; a --mode override of the running "
        "loop is not recorded in the store. Fallback ladder: derived from the newest cycle's "
        "alarms and plan in the store."
    ),
    "prices-note": (
        "Published day-ahead prices are inputs of the forecast and are not shown here yet (not "
        "available yet); the lines are the plan's marginal prices."
    ),
}


def translate(key: str, lang: str) -> str:
    """The words for ``key`` in ``lang`` (English: the key itself, or a longer text)."""
    if lang == "de":
        return DE.get(key, EN.get(key, key))
    return EN.get(key, key)
