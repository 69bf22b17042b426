//! The words the generated calls are made of: what voice agents and their callers
//! really say, in German and English, plus names for tenants, assistants and
//! campaigns. Realistic text matters because its length and its non-ASCII bytes
//! (umlauts) are what the server stores, escapes and sends.

/// The sentences and assistant names of one language. A transcript opens with an
/// opening for its direction (web calls greet like inbound ones), alternates `bot`
/// and `human` lines and ends with a `closings` line.
pub struct Language {
    pub code: &'static str,
    pub inbound_openings: &'static [&'static str],
    pub outbound_openings: &'static [&'static str],
    pub bot: &'static [&'static str],
    pub human: &'static [&'static str],
    pub closings: &'static [&'static str],
    pub summaries: &'static [&'static str],
    /// What a caller says before giving a reference number.
    pub reference: &'static str,
    /// Assistant names by type: inbound, outbound, web.
    pub assistants: [&'static [&'static str]; 3],
}

pub const GERMAN: Language = Language {
    code: "de",
    inbound_openings: &[
        "Guten Tag, hier ist der digitale Assistent. Wie kann ich Ihnen heute helfen?",
        "Hallo, Sie sprechen mit dem Terminservice. Worum geht es bei Ihrem Anruf?",
        "Herzlich willkommen beim Kundenservice. Darf ich zuerst Ihren Namen erfahren?",
    ],
    outbound_openings: &[
        "Guten Tag, ich rufe im Auftrag unseres Vertriebsteams an. Spreche ich mit der Geschäftsführung?",
        "Hallo, hier ist der Terminservice. Ich rufe wegen Ihres Termins nächste Woche an.",
        "Guten Tag, Sie hatten auf unserer Webseite um einen Rückruf gebeten. Passt es gerade?",
    ],
    bot: &[
        "Vielen Dank. Können Sie mir bitte Ihre Kundennummer nennen?",
        "Ich sehe hier zwei offene Termine in der nächsten Woche. Passt Ihnen Dienstag um zehn Uhr?",
        "Einen Moment bitte, ich prüfe kurz die Verfügbarkeit in unserem Kalender.",
        "Das habe ich notiert. Möchten Sie eine Bestätigung per E-Mail oder per SMS erhalten?",
        "Wir helfen Unternehmen, ihre Telefonie mit KI zu automatisieren. Haben Sie zwei Minuten Zeit?",
        "Wie viele Anrufe nimmt Ihr Team pro Tag ungefähr entgegen?",
        "Darf ich Ihnen dazu unverbindlich Unterlagen per E-Mail schicken?",
        "Verstehe. Soll ich einen Rückruf durch einen Kollegen aus der Fachabteilung veranlassen?",
        "Ihre Bestellung wurde gestern versandt und sollte morgen bei Ihnen ankommen.",
        "Für die Änderung Ihres Vertrags benötige ich noch Ihr Geburtsdatum zur Bestätigung.",
        "Das tut mir leid. Ich leite Ihr Anliegen mit hoher Priorität an den technischen Support weiter.",
        "Ich habe Sie für Donnerstag um vierzehn Uhr dreißig eingetragen. Ist das in Ordnung?",
        "Sind Sie aktuell mit Ihrem bisherigen Anbieter zufrieden, oder gibt es Punkte, die Sie stören?",
        "Unsere Praxis hat montags bis freitags von acht bis achtzehn Uhr geöffnet.",
        "Gibt es sonst noch etwas, das ich für Sie tun kann?",
    ],
    human: &[
        "Ja, am Apparat. Worum geht es denn genau?",
        "Ich wollte eigentlich nur meinen Termin am Freitag verschieben.",
        "Meine Kundennummer ist vier fünf sieben acht neun zwei.",
        "Dienstag geht leider nicht, da bin ich den ganzen Tag unterwegs.",
        "Ja, zwei Minuten habe ich, aber bitte kurz.",
        "So um die hundertfünfzig Anrufe, würde ich schätzen.",
        "Gerne, schicken Sie mir die Unterlagen an die Adresse auf unserer Webseite.",
        "Nein danke, wir sind im Moment gut versorgt.",
        "Die Lieferung ist immer noch nicht angekommen, das ist jetzt schon die zweite Woche.",
        "Können Sie mich bitte mit einem Mitarbeiter verbinden?",
        "Am liebsten per E-Mail, die SMS kommen bei mir oft nicht an.",
        "Das passt, vielen Dank für die schnelle Hilfe.",
        "Wie hoch wären denn die monatlichen Kosten ungefähr?",
        "Moment, ich muss kurz in meinen Kalender schauen.",
        "Nein, das war alles. Danke Ihnen.",
    ],
    closings: &[
        "Vielen Dank für Ihren Anruf und einen schönen Tag noch. Auf Wiederhören!",
        "Alles klar, die Bestätigung ist unterwegs. Vielen Dank und bis bald!",
        "Danke für Ihre Zeit. Ein Kollege meldet sich in den nächsten Tagen bei Ihnen.",
    ],
    reference: "Meine Referenznummer ist die",
    summaries: &[
        "Termin erfolgreich vereinbart, Bestätigung per E-Mail versendet.",
        "Kunde hat kein Interesse, bitte nicht erneut anrufen.",
        "Rückruf durch die Fachabteilung gewünscht.",
        "Lieferverzögerung gemeldet, Ticket an den Support weitergeleitet.",
        "Unterlagen angefordert, Nachfassen in einer Woche.",
    ],
    assistants: [
        &[
            "Terminbuchung",
            "Kundenservice Hotline",
            "Praxis-Empfang",
            "Schadenmeldung",
        ],
        &[
            "Vertriebsassistent",
            "Lead-Qualifizierung",
            "Rückruf-Service",
            "Terminerinnerung",
        ],
        &["Website-Chat Sprache", "Online-Beratung"],
    ],
};

pub const ENGLISH: Language = Language {
    code: "en",
    inbound_openings: &[
        "Hi, thanks for calling, this is the virtual assistant. How can I help you today?",
        "Hello, you've reached the booking line. Are you calling about a new or an existing appointment?",
        "Welcome to customer support. Could you tell me your name, please?",
    ],
    outbound_openings: &[
        "Good morning, I'm calling on behalf of the sales team. Do you have a moment to talk?",
        "Hi, this is a quick reminder call about your appointment next week.",
        "Hello, you asked for a callback on our website earlier. Is now a good time?",
    ],
    bot: &[
        "Thanks. Could you give me the email address on the account?",
        "I can see two failed login attempts this morning. Shall I send you a reset link?",
        "Let me check the calendar for you, this will only take a second.",
        "I have an opening on Thursday at half past two. Would that work for you?",
        "We help teams automate their phone lines with AI agents. Would that be relevant for you?",
        "Roughly how many calls does your team handle on a typical day?",
        "Would it be all right if I emailed you a short overview and a pricing sheet?",
        "I understand. Would you like one of our specialists to call you back this afternoon?",
        "Your order left our warehouse yesterday and should be with you by tomorrow evening.",
        "To change the plan I just need to confirm your postcode, please.",
        "I'm sorry about that. I've opened a priority ticket with our technical team.",
        "Done, I've moved your billing date to the fifteenth of each month.",
        "Are you happy with your current provider, or is there anything you'd like to improve?",
        "Our office is open Monday to Friday from eight in the morning until six.",
        "Is there anything else I can help you with today?",
    ],
    human: &[
        "Hi, I can't log into my account since this morning.",
        "Sure, it's jane dot miller at example dot com.",
        "Yes please, send it to the same address.",
        "Thursday is tricky, do you have anything on Friday morning?",
        "I've got two minutes, go ahead.",
        "Probably around two hundred calls a day, more on Mondays.",
        "Sure, email is fine, but I can't promise anything.",
        "No thanks, we're not looking to change anything right now.",
        "The parcel still hasn't arrived and the tracking hasn't updated in days.",
        "Can I speak to a real person, please?",
        "Text message is better for me, I rarely check my email.",
        "Perfect, that's exactly what I needed, thank you.",
        "What would that cost us per month, roughly?",
        "Hang on, let me just grab my calendar.",
        "No, that's everything, thanks a lot.",
    ],
    closings: &[
        "You're welcome. Have a lovely day, goodbye!",
        "Great, the confirmation is on its way. Thanks for calling!",
        "Thanks for your time, one of my colleagues will be in touch this week.",
    ],
    reference: "My reference number is",
    summaries: &[
        "Appointment booked, confirmation sent by email.",
        "Not interested, asked not to be called again.",
        "Requested a callback from a specialist.",
        "Reported a delayed delivery, ticket opened with support.",
        "Asked for the pricing sheet, follow up next week.",
    ],
    assistants: [
        &[
            "Booking Assistant",
            "Support Line",
            "Front Desk",
            "Claims Hotline",
        ],
        &[
            "Sales Assistant",
            "Lead Qualifier",
            "Renewals Desk",
            "Appointment Reminders",
        ],
        &["Website Concierge", "Web Voice Agent"],
    ],
};

/// Tenant company names; the first is the largest tenant.
pub const COMPANIES: [&str; 21] = [
    "Nordwind Energie GmbH",
    "Brightline Telecom Ltd",
    "Praxis Dr. Sommer",
    "Autohaus Keller KG",
    "Harbour Insurance plc",
    "Stadtwerke Lindenau",
    "Greenleaf Dental",
    "Müller & Söhne Immobilien",
    "Summit Fitness Clubs",
    "Hotel Alpenblick",
    "Clearwater Lettings",
    "Bäckerei Brandt",
    "Northgate Solar",
    "Kanzlei Weber & Partner",
    "Oakridge Vet Clinic",
    "Fahrschule Lehmann",
    "Pinewood Home Care",
    "Reisebüro Sonnenschein",
    "Atlas Logistics UK",
    "Zahnarztpraxis Yilmaz",
    "Kiosk am Markt",
];

pub const CAMPAIGNS: [&str; 8] = [
    "Neukundenakquise Q4",
    "Winback Herbst",
    "Product Launch UK",
    "Renewal Reminders",
    "Messe-Nachfass",
    "Webinar Follow-up",
    "Kundenzufriedenheit 2026",
    "Spring Promotion",
];

pub const FIRST_NAMES: [&str; 12] = [
    "Anna",
    "Lukas",
    "Sophie",
    "Jonas",
    "Emily",
    "Oliver",
    "Mia",
    "James",
    "Leonie",
    "Noah",
    "Hannah",
    "Charlotte",
];

pub const LAST_NAMES: [&str; 10] = [
    "Schneider",
    "Fischer",
    "Weber",
    "Smith",
    "Taylor",
    "Becker",
    "Brown",
    "Hoffmann",
    "Wilson",
    "Schulz",
];
