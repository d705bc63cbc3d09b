"""Fixed vocabularies of the synthetic world: industries, sources, geography, names, titles.

Each categorical value carries its true base effect on the conversion log-odds, so the truth
file and the generator read the same numbers.
"""

from __future__ import annotations

from leadpilot.schema import SIZE_BANDS

# Industry -> (share of companies, base log-odds effect).
INDUSTRIES: dict[str, tuple[float, float]] = {
    "Software": (0.22, 0.25),
    "Financial Services": (0.14, -0.10),
    "Healthcare": (0.13, -0.20),
    "Manufacturing": (0.13, 0.00),
    "Retail": (0.11, 0.10),
    "Education": (0.09, -0.30),
    "Professional Services": (0.10, 0.15),
    "Media": (0.08, -0.05),
}

# Lead source -> (share of leads, base log-odds effect).
SOURCES: dict[str, tuple[float, float]] = {
    "Website": (0.26, 0.10),
    "Paid Search": (0.16, -0.20),
    "Organic Search": (0.14, 0.00),
    "Referral": (0.08, 0.70),
    "Partner": (0.07, 0.45),
    "Event": (0.08, 0.15),
    "Webinar": (0.09, -0.10),
    "Social": (0.07, -0.45),
    "Outbound": (0.05, -0.35),
}

# Region -> base log-odds effect. ("NAMER", not "NA": many CSV readers take "NA" for missing.)
REGIONS: dict[str, float] = {"NAMER": 0.30, "EMEA": 0.00, "LATAM": -0.30, "APAC": -0.20}

# Country -> (region, share of leads, language, top-level domain, states or ()).
COUNTRIES: dict[str, tuple[str, float, str, str, tuple[str, ...]]] = {
    "United States": ("NAMER", 0.40, "en", "com", ("CA", "NY", "TX", "WA", "MA", "IL", "FL", "CO")),
    "Canada": ("NAMER", 0.06, "en", "ca", ("ON", "BC", "QC")),
    "United Kingdom": ("EMEA", 0.11, "en", "co.uk", ()),
    "Germany": ("EMEA", 0.08, "de", "de", ()),
    "France": ("EMEA", 0.06, "fr", "fr", ()),
    "Netherlands": ("EMEA", 0.03, "en", "nl", ()),
    "Spain": ("EMEA", 0.03, "es", "es", ()),
    "Brazil": ("LATAM", 0.05, "pt", "com.br", ()),
    "Mexico": ("LATAM", 0.04, "es", "mx", ()),
    "Australia": ("APAC", 0.07, "en", "com.au", ()),
    "Singapore": ("APAC", 0.03, "en", "sg", ()),
    "India": ("APAC", 0.04, "en", "in", ()),
}

# Product of interest -> (share, base log-odds effect).
PRODUCTS: dict[str, tuple[float, float]] = {
    "Core CRM": (0.45, 0.05),
    "Analytics": (0.30, 0.00),
    "Automation Suite": (0.25, -0.10),
}

# Size band -> base log-odds effect (big companies convert less often but buy bigger deals).
SIZE_BAND_LABELS: tuple[str, ...] = tuple(b[0] for b in SIZE_BANDS)
SIZE_BAND_EFFECTS: dict[str, float] = {
    "1-10": -0.20,
    "11-50": 0.05,
    "51-200": 0.15,
    "201-500": 0.10,
    "501-1000": 0.00,
    "1001-5000": -0.15,
    "5000+": -0.30,
}

# The pool each size band belongs to when a team routes by segment (as examples/policy.yaml:
# SMB 1-200 employees to inbound, 201-1000 to mid-market, 1001+ to enterprise).
SEGMENT_POOLS: dict[str, str] = {
    "1-10": "inbound",
    "11-50": "inbound",
    "51-200": "inbound",
    "201-500": "mid-market",
    "501-1000": "mid-market",
    "1001-5000": "enterprise",
    "5000+": "enterprise",
}

# Rep roles: (pool, share of the roster, relative daily capacity).
ROLES: dict[str, tuple[str, float, float]] = {
    "SDR": ("inbound", 0.45, 1.10),
    "AE": ("mid-market", 0.35, 1.00),
    "Enterprise": ("enterprise", 0.20, 0.85),
}

# Rep home timezones by region (every offset lies in UTC-8..UTC+2, so a lead created between
# 09:00 and 21:00 UTC falls on the same calendar day for every rep).
REGION_TIMEZONES: dict[str, tuple[str, ...]] = {
    "NAMER": ("America/New_York", "America/Chicago", "America/Los_Angeles"),
    "EMEA": ("Europe/London", "Europe/Berlin", "Europe/Paris"),
    "LATAM": ("America/New_York",),
    "APAC": ("America/Los_Angeles",),
}

FREE_MAIL: tuple[str, ...] = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com")

FIRST_NAMES: tuple[str, ...] = (
    "james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "david",
    "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica", "thomas",
    "sarah", "charles", "karen", "daniel", "lisa", "matthew", "nancy", "anthony", "sandra",
    "mark", "ashley", "paul", "emily", "steven", "donna", "andrew", "michelle", "kevin",
    "carol", "brian", "amanda", "george", "melissa", "lukas", "sophie", "marie", "jonas",
    "camille", "lucas", "ana", "pedro", "sofia", "diego", "priya", "arjun", "wei", "mei",
    "olivia", "noah", "emma", "liam", "ava", "ethan", "chloe", "hugo",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
    "rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas",
    "taylor", "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris",
    "sanchez", "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king",
    "wright", "scott", "torres", "nguyen", "hill", "flores", "green", "adams", "nelson",
    "baker", "hall", "rivera", "campbell", "mitchell", "carter", "roberts", "muller",
    "schmidt", "dubois", "moreau", "silva", "santos", "sharma", "patel", "chen", "wang",
    "kim", "tanaka", "novak", "jensen",
)  # fmt: skip

COMPANY_HEADS: tuple[str, ...] = (
    "blue", "north", "bright", "silver", "green", "iron", "clear", "swift", "prime", "true",
    "red", "deep", "high", "open", "bold", "first", "quantum", "apex", "nova", "terra",
    "aqua", "solar", "lunar", "stellar", "vertex", "cobalt", "amber", "crystal", "golden",
    "rapid", "smart", "summit", "pioneer", "harbor", "maple", "cedar", "oak", "pine",
    "river", "lake", "ocean", "stone", "peak", "ridge", "valley", "meadow", "falcon",
    "eagle", "fox", "wolf", "lion", "tiger", "atlas", "orion", "vega", "polar", "metro",
    "urban", "civic", "globe", "astra", "zen", "echo", "pixel",
)  # fmt: skip

COMPANY_TAILS: tuple[str, ...] = (
    "wave", "point", "path", "line", "works", "forge", "bridge", "gate", "field", "stack",
    "cloud", "data", "logic", "mind", "sight", "spark", "shift", "scale", "core", "base",
    "port", "view", "craft", "loop", "node", "grid", "flow", "labs", "soft", "tech",
    "net", "ware", "hub", "mark", "well", "stream", "light", "rock", "wing", "star",
    "bay", "land", "ville", "crest", "tide", "wind", "fire", "leaf", "vine", "root",
    "way", "dock", "mill", "yard", "tower", "arc", "beam", "pulse", "sync", "verse",
    "lytics", "metrics", "ly", "io",
)  # fmt: skip

# Last word of a company name, by industry (so "Cedarpeak Health" is in Healthcare).
COMPANY_KINDS: dict[str, tuple[str, ...]] = {
    "Software": ("Software", "Labs", "Technologies", "Digital", "Systems", "Cloud"),
    "Financial Services": ("Capital", "Finance", "Partners", "Bank", "Insurance", "Investments"),
    "Healthcare": ("Health", "Medical", "Care", "Clinics", "Pharma", "Biotech"),
    "Manufacturing": ("Industries", "Manufacturing", "Motors", "Robotics", "Materials", "Works"),
    "Retail": ("Retail", "Foods", "Stores", "Brands", "Outfitters", "Market"),
    "Education": ("Learning", "Academy", "Education", "Institute", "School", "Tutoring"),
    "Professional Services": ("Consulting", "Solutions", "Advisory", "Services", "Group",
                              "Associates"),
    "Media": ("Media", "Studios", "Publishing", "Broadcasting", "Design", "Entertainment"),
}  # fmt: skip

# Legal-form suffixes by country ("" = name used without one).
LEGAL_SUFFIXES: dict[str, tuple[str, ...]] = {
    "United States": ("Inc", "LLC", "Corp", ""),
    "Canada": ("Inc", "Ltd", ""),
    "United Kingdom": ("Ltd", "plc", ""),
    "Germany": ("GmbH", "AG", ""),
    "France": ("SA", "SAS", ""),
    "Netherlands": ("BV", ""),
    "Spain": ("SL", "SA", ""),
    "Brazil": ("Ltda", ""),
    "Mexico": ("SA de CV", ""),
    "Australia": ("Pty Ltd", ""),
    "Singapore": ("Pte Ltd", ""),
    "India": ("Pvt Ltd", ""),
}

TITLES: tuple[str, ...] = (
    "CEO", "CTO", "CFO", "VP Sales", "VP Marketing", "Head of Operations", "Director of IT",
    "Sales Manager", "Marketing Manager", "Operations Manager", "Product Manager",
    "Software Engineer", "Data Analyst", "Business Analyst", "Office Manager", "Founder",
    "Procurement Lead", "RevOps Manager", "Customer Success Manager", "Consultant",
)  # fmt: skip
