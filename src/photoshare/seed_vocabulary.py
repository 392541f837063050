"""The words and places the seeded world is made of (``photoshare.seed``)."""

from __future__ import annotations

from typing import NamedTuple


class Place(NamedTuple):
    name: str
    category: str
    lat: float
    lon: float


# Real places, at (approximately) their real coordinates, so that the location data a harvester
# collects looks like the real thing.
CITIES: dict[str, tuple[Place, ...]] = {
    "Berlin": (
        Place("Hotel Adlon Kempinski", "hotel", 52.5163, 13.3798),
        Place("Michelberger Hotel", "hotel", 52.5053, 13.4449),
        Place("Pergamonmuseum", "museum", 52.5212, 13.3969),
        Place("Neue Nationalgalerie", "museum", 52.5069, 13.3672),
        Place("Café Einstein Stammhaus", "cafe", 52.5035, 13.3541),
        Place("The Barn Coffee Roasters", "cafe", 52.5290, 13.4010),
        Place("Markthalle Neun", "restaurant", 52.5024, 13.4316),
        Place("Tempelhofer Feld", "park", 52.4731, 13.4014),
    ),
    "Paris": (
        Place("Le Meurice", "hotel", 48.8651, 2.3281),
        Place("Hôtel Plaza Athénée", "hotel", 48.8662, 2.3040),
        Place("Musée du Louvre", "museum", 48.8606, 2.3376),
        Place("Musée d'Orsay", "museum", 48.8600, 2.3266),
        Place("Café de Flore", "cafe", 48.8541, 2.3326),
        Place("Le Comptoir du Relais", "restaurant", 48.8520, 2.3388),
        Place("Jardin du Luxembourg", "park", 48.8462, 2.3372),
        Place("Shakespeare and Company Café", "cafe", 48.8526, 2.3471),
    ),
    "Lisbon": (
        Place("Pestana Palace", "hotel", 38.7056, -9.1836),
        Place("Memmo Alfama", "hotel", 38.7107, -9.1306),
        Place("MAAT", "museum", 38.6958, -9.1927),
        Place("Museu Calouste Gulbenkian", "museum", 38.7372, -9.1545),
        Place("Pastéis de Belém", "cafe", 38.6975, -9.2032),
        Place("A Brasileira", "cafe", 38.7107, -9.1425),
        Place("Time Out Market", "restaurant", 38.7069, -9.1459),
        Place("Miradouro da Senhora do Monte", "landmark", 38.7193, -9.1327),
    ),
    "New York": (
        Place("The Plaza Hotel", "hotel", 40.7645, -73.9744),
        Place("The Standard, High Line", "hotel", 40.7408, -74.0080),
        Place("The Metropolitan Museum of Art", "museum", 40.7794, -73.9632),
        Place("MoMA", "museum", 40.7614, -73.9776),
        Place("Devoción", "cafe", 40.7163, -73.9645),
        Place("Katz's Delicatessen", "restaurant", 40.7223, -73.9874),
        Place("Joe's Pizza", "restaurant", 40.7306, -74.0021),
        Place("Bethesda Terrace", "park", 40.7740, -73.9708),
    ),
    "Tokyo": (
        Place("Park Hyatt Tokyo", "hotel", 35.6856, 139.6909),
        Place("Mori Art Museum", "museum", 35.6604, 139.7292),
        Place("teamLab Planets", "museum", 35.6491, 139.7898),
        Place("Blue Bottle Coffee Kiyosumi", "cafe", 35.6803, 139.8001),
        Place("Tsukiji Outer Market", "restaurant", 35.6655, 139.7707),
        Place("Meiji Jingu", "landmark", 35.6764, 139.6993),
    ),
}

FIRST_NAMES = (
    "Ada", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kai",
    "Lena", "Mateo", "Nora", "Omar", "Paula", "Quentin", "Rosa", "Sami", "Tara", "Umar", "Vera",
    "Wen", "Ximena", "Yusuf", "Zoe", "Aiko", "Bruno", "Chloe", "Diego", "Emma", "Farah", "Gil",
    "Hana", "Ivan", "Julia", "Kenji", "Lucia", "Malik", "Nina", "Oscar", "Priya", "Rafael", "Sofia",
)  # fmt: skip

LAST_NAMES = (
    "Almeida", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hoffmann", "Ito",
    "Jensen", "Kowalski", "Lambert", "Martin", "Nakamura", "Okafor", "Pereira", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Urban", "Vogel", "Weber", "Yilmaz", "Zimmermann", "Silva", "Moreau",
    "Becker", "Santos", "Klein", "Laurent", "Kim", "Novak", "Ferreira", "Brennan", "Sato",
)  # fmt: skip

INTERESTS = (
    "coffee", "travel", "film", "running", "climbing", "jazz", "design", "books", "surf",
    "food", "art", "cycling", "yoga", "vinyl", "plants", "architecture", "street", "ceramics",
)  # fmt: skip

BIOS = (
    "{a} & {b} · {city}",
    "Based in {city}. Mostly {a}, sometimes {b}.",
    "{A} nerd. {B} on weekends.",
    "Photos of {a}, {b} and {city}.",
    "{city} → anywhere. {A} first.",
    "Not a photographer. Just like {a}.",
    "",
)

BUSINESS_BIOS = {
    "hotel": "Rooms, rooftop and breakfast in {city}. Book via the link.",
    "cafe": "Specialty coffee in {city}. Open daily from 8.",
    "museum": "Exhibitions and events in {city}. Tag us in your visit.",
    "restaurant": "Seasonal kitchen in {city}. Walk-ins welcome.",
    "park": "Events and news from {city}'s favourite green space.",
    "landmark": "The official account. {city}.",
}

VENUE_CAPTIONS = {
    "hotel": (
        "Checked in at {venue} 🛎️",
        "Room with a view. {venue}",
        "Breakfast at {venue} before the city wakes up",
        "Rooftop drinks at {venue}",
    ),
    "cafe": (
        "Flat white and a window seat at {venue}",
        "Morning ritual ☕ {venue}",
        "Best pastry in {city}? {venue} makes a case",
    ),
    "museum": (
        "Lost an afternoon at {venue}",
        "This room at {venue} 🖼️",
        "Finally made it to {venue}",
    ),
    "restaurant": (
        "Dinner at {venue}. Worth the queue.",
        "Lunch break at {venue}",
        "{venue} never disappoints",
    ),
    "park": ("Sunday at {venue} 🌳", "Long walk through {venue}", "Picnic weather at {venue}"),
    "landmark": ("Golden hour at {venue}", "Worth the climb: {venue}", "{venue}, again"),
}

CAPTIONS = (
    "Weekend mood",
    "Sunset from the balcony",
    "Trying film again 📷",
    "Homemade pasta night",
    "Late train home",
    "Rain again. Still love this city.",
    "New plant, who dis 🌿",
    "Saturday market haul",
    "Finally finished this book",
    "Morning run done ✔️",
    "Things I saw this week",
    "Light through the kitchen window",
    "Back home in {city}",
    "",
)

HASHTAGS = ("#weekend", "#streetphotography", "#citylife", "#{city}", "#nofilter", "#{a}")

COMMENTS = (
    "Love this!",
    "Wow 😍",
    "Where is this?",
    "So good",
    "Take me with you next time",
    "This light!",
    "Miss this place",
    "🔥🔥",
    "Great shot",
    "Need to go there",
    "Haha classic",
    "Beautiful colours",
)
