/* gen_names — see gen_names.h. */
#include "gen_names.h"

#include <stdio.h>
#include <string.h>

const char *const enc_gen_genre_name[ENC_GEN_GENRES] = {"pop",       "hip-hop", "rock",    "electronic", "latin",
                                                        "r&b",       "indie",   "country", "k-pop",      "jazz",
                                                        "classical", "metal",   "folk",    "reggae",     "blues"};
const double enc_gen_genre_weight[ENC_GEN_GENRES] = {20, 16, 11, 9, 8, 7, 6, 5, 3, 3, 3, 3, 2.5, 2, 1.5};

static const char *const adj[] = {
    "Golden", "Electric", "Midnight",  "Silver",  "Broken", "Wild",   "Neon",     "Velvet",  "Hollow", "Crimson",
    "Lonely", "Burning",  "Silent",    "Paper",   "Glass",  "Summer", "Northern", "Distant", "Sweet",  "Restless",
    "Blue",   "Little",   "Endless",   "Faded",   "Secret", "Sacred", "Lucky",    "Cosmic",  "Gentle", "Heavy",
    "Quiet",  "Young",    "Dangerous", "Perfect", "Bitter", "Frozen", "Hidden",   "Shining", "Savage", "Tender"};
static const char *const noun[] = {
    "Heart",   "Night",  "Fire",    "River",   "Dream",    "Light",   "Rain",   "Road",     "Sky",     "Ocean",
    "Shadow",  "Stone",  "Star",    "Storm",   "Moon",     "Sun",     "Garden", "City",     "Highway", "Mirror",
    "Echo",    "Wave",   "Thunder", "Horizon", "Paradise", "Memory",  "Island", "Daylight", "Gravity", "Satellite",
    "Diamond", "Window", "Heaven",  "Flame",   "Silence",  "Kingdom", "Thread", "Harbor",   "Coast",   "Avenue",
    "Lullaby", "Signal", "Tide",    "Season",  "Love",     "Girl",    "Boy",    "Money",    "Home",    "Time"};
static const char *const phrase[] = {"Hold On",       "Take Me Home",  "Call My Name",  "Don't Let Go",  "Run Away",
                                     "Stay With Me",  "Come Back",     "Dance Alone",   "Fall Apart",    "Lose Control",
                                     "Say Goodbye",   "Wake Me Up",    "Light It Up",   "Keep Me Close", "Let It Burn",
                                     "Find My Way",   "Breathe Again", "Chase the Sun", "Tell Me Why",   "Never Enough",
                                     "I Can't Sleep", "Slow Down",     "Only You",      "All Night"};
static const char *const foreign[] = {
    "Corazón",   "Mañana", "Déjà Vu",      "Saudade", "Bailando Sola", "Canción del Mar", "Fête Foraine",
    "Sehnsucht", "Été",    "Niño Perdido", "Ação",    "Tōkyō Nights",  "Amor Eterno",     "Noche de Verano"};
static const char *const interj[] = {"Hello", "Goodbye", "Oh", "Yes", "Hey", "Listen", "Wait", "Sorry", "Thank You"};
static const char *const addressee[] = {"Stranger", "My Friend",  "Mama",     "Tokyo", "Juliet",  "California",
                                        "Lover",    "Old Friend", "Mr. Blue", "Maria", "Darling", "Brooklyn"};
static const char *const version[] = {" (Remix)",      " (Live)",   " (Acoustic)",      " - Remastered",
                                      " (Radio Edit)", " (Slowed)", " - 2011 Remaster", " (Demo)"};
static const char *const form[] = {"Sonata", "Nocturne", "Étude", "Prelude", "Symphony", "Concerto", "Waltz", "Suite"};
static const char *const key_name[] = {"C Major", "D Minor", "E-flat Major", "F Minor",
                                       "G Major", "A Minor", "B-flat Major", "C-sharp Minor"};
static const char *const movement[] = {"I. Allegro", "II. Adagio", "III. Scherzo", "IV. Presto", "II. Andante"};
static const char *const first_name[] = {"Ava",   "Leo",    "Maya",  "Noah",  "Lena",  "Mateo", "Zoe",   "Kai",
                                         "Aria",  "Jonas",  "Nina",  "Felix", "Luna",  "Omar",  "Sofia", "Theo",
                                         "Mila",  "Ezra",   "Ines",  "Hugo",  "Yuki",  "Ravi",  "Chloe", "Diego",
                                         "Freya", "Malik",  "Elise", "Tomas", "Priya", "Jude",  "Ana",   "Sam",
                                         "Rosa",  "Marcus", "Lucia", "Oscar", "Aiko",  "Nico",  "Clara", "Jamal"};
static const char *const last_name[] = {
    "Rivers", "Stone",  "Hart",     "Vega",     "Moreau", "Lindqvist", "Okafor",  "Tanaka", "Silva", "Becker",
    "Novak",  "Reyes",  "Hayes",    "Castillo", "Bloom",  "Fox",       "Mercer",  "Sato",   "Kovač", "Delgado",
    "Quinn",  "Walsh",  "Ferreira", "Nakamura", "Haddad", "Larsen",    "Marlowe", "Santos", "Kim",   "Adeyemi",
    "Rossi",  "Dubois", "Park",     "Ward",     "Ortiz",  "Keller",    "Lowe",    "Mendes", "Frost", "Wilde"};
static const char *const plural[] = {
    "Wolves",   "Lions",  "Strangers", "Ghosts",   "Rebels",   "Kings",  "Foxes",   "Pilots", "Giants",     "Saints",
    "Sparrows", "Ravens", "Wanderers", "Dreamers", "Machines", "Lovers", "Thieves", "Echoes", "Satellites", "Comets"};
static const char *const nick[] = {"Big", "Little", "Kid", "Ace", "Smooth", "Lucky", "Doc", "Baby", "Sugar", "Slim"};
static const char *const syllable[] = {"ka", "lo", "mi", "ra", "zen", "vo", "li", "na", "so", "ry", "el", "ar",
                                       "de", "no", "ve", "xa", "lu",  "ti", "on", "ae", "ko", "ri", "sa", "ya"};
static const char *const rap_prefix[] = {"Lil ", "Young ", "MC ", "Big ", "Yung "};
static const char *const city[] = {"Vienna", "Berlin", "London", "Prague", "Boston", "Oslo", "Lyon", "Tokyo"};
static const char *const ensemble[] = {" Philharmonic", " String Quartet", " Chamber Orchestra", " Symphony Orchestra"};

/* ---- names ---------------------------------------------------------------------------- */

static void nb_add(enc_gen_name *b, const char *s)
{
    size_t k = strlen(s);
    if (k > ENC_GEN_NAME_MAX - b->n)
        k = ENC_GEN_NAME_MAX - b->n;
    memcpy(b->s + b->n, s, k);
    b->n += k;
    b->s[b->n] = '\0';
}

static void nb_uint(enc_gen_name *b, uint32_t v)
{
    char tmp[16];
    snprintf(tmp, sizeof tmp, "%u", (unsigned)v);
    nb_add(b, tmp);
}

/* A made-up word from 2–3 syllables, capitalised: "Kaelo". */
static void nb_word(enc_gen_name *b, enc_rng *r)
{
    size_t start = b->n;
    uint32_t k = 2 + enc_rng_below(r, 2);
    for (uint32_t i = 0; i < k; i++)
        nb_add(b, ENC_RNG_PICK_STR(r, syllable));
    if (b->n > start && b->s[start] >= 'a' && b->s[start] <= 'z')
        b->s[start] = (char)(b->s[start] - 'a' + 'A');
}

static void nb_person(enc_gen_name *b, enc_rng *r)
{
    if (enc_rng_below(r, 5) == 0)
        nb_word(b, r);
    else
        nb_add(b, ENC_RNG_PICK_STR(r, first_name));
    nb_add(b, " ");
    if (enc_rng_below(r, 3) == 0)
        nb_word(b, r);
    else
        nb_add(b, ENC_RNG_PICK_STR(r, last_name));
}

void enc_gen_artist_name(enc_gen_name *b, enc_rng *r, int genre)
{
    b->n = 0;
    b->s[0] = '\0';
    uint32_t x = enc_rng_below(r, 1000);
    if (genre == ENC_GENRE_CLASSICAL && x < 500) {
        nb_add(b, ENC_RNG_PICK_STR(r, city));
        nb_add(b, ENC_RNG_PICK_STR(r, ensemble));
    } else if ((genre == ENC_GENRE_HIPHOP && x < 450) || (genre == ENC_GENRE_ELECTRONIC && x < 300)) {
        nb_add(b, genre == ENC_GENRE_HIPHOP ? ENC_RNG_PICK_STR(r, rap_prefix) : "DJ ");
        if (enc_rng_below(r, 2))
            nb_word(b, r);
        else
            nb_add(b, ENC_RNG_PICK_STR(r, noun));
    } else if (x < 380) {
        nb_person(b, r);
    } else if (x < 560) {
        nb_add(b, "The ");
        if (enc_rng_below(r, 2))
            nb_add(b, ENC_RNG_PICK_STR(r, adj)), nb_add(b, " ");
        nb_add(b, ENC_RNG_PICK_STR(r, plural));
    } else if (x < 710) {
        nb_add(b, ENC_RNG_PICK_STR(r, adj));
        nb_add(b, " ");
        nb_add(b, ENC_RNG_PICK_STR(r, noun));
    } else if (x < 850) {
        nb_word(b, r);
    } else if (x < 910) {
        nb_add(b, ENC_RNG_PICK_STR(r, first_name));
        nb_add(b, " & the ");
        nb_add(b, ENC_RNG_PICK_STR(r, plural));
    } else if (x < 940) {
        nb_person(b, r);
        nb_add(b, " x ");
        nb_word(b, r);
    } else if (x < 970) { /* "Crosby, Stills & Nash" */
        nb_add(b, ENC_RNG_PICK_STR(r, last_name));
        nb_add(b, ", ");
        nb_add(b, ENC_RNG_PICK_STR(r, last_name));
        nb_add(b, " & ");
        nb_add(b, ENC_RNG_PICK_STR(r, last_name));
    } else { /* Calvin "Big" Harris */
        nb_add(b, ENC_RNG_PICK_STR(r, first_name));
        nb_add(b, " \"");
        nb_add(b, ENC_RNG_PICK_STR(r, nick));
        nb_add(b, "\" ");
        nb_add(b, ENC_RNG_PICK_STR(r, last_name));
    }
}

void enc_gen_song_title(enc_gen_name *b, enc_rng *r, int genre)
{
    b->n = 0;
    b->s[0] = '\0';
    uint32_t x = enc_rng_below(r, 1000);
    if (genre == ENC_GENRE_CLASSICAL && x < 700) { /* Symphony No. 5 in C Minor, Op. 67: I. Allegro */
        nb_add(b, ENC_RNG_PICK_STR(r, form));
        nb_add(b, " No. ");
        nb_uint(b, 1 + enc_rng_below(r, 12));
        nb_add(b, " in ");
        nb_add(b, ENC_RNG_PICK_STR(r, key_name));
        if (enc_rng_below(r, 2)) {
            nb_add(b, ", Op. ");
            nb_uint(b, 1 + enc_rng_below(r, 120));
            nb_add(b, ": ");
            nb_add(b, ENC_RNG_PICK_STR(r, movement));
        }
        return;
    }
    if (x < 200) {
        nb_add(b, ENC_RNG_PICK_STR(r, noun));
    } else if (x < 450) {
        nb_add(b, ENC_RNG_PICK_STR(r, adj));
        nb_add(b, " ");
        nb_add(b, ENC_RNG_PICK_STR(r, noun));
    } else if (x < 570) {
        nb_add(b, ENC_RNG_PICK_STR(r, noun));
        nb_add(b, enc_rng_below(r, 2) ? " of " : " in the ");
        nb_add(b, ENC_RNG_PICK_STR(r, noun));
    } else if (x < 800) {
        nb_add(b, ENC_RNG_PICK_STR(r, phrase));
    } else if (x < 870) {
        nb_add(b, ENC_RNG_PICK_STR(r, adj));
        nb_add(b, " ");
        nb_add(b, ENC_RNG_PICK_STR(r, noun));
        nb_add(b, ENC_RNG_PICK_STR(r, version));
    } else if (x < 910) {
        nb_add(b, ENC_RNG_PICK_STR(r, phrase));
        nb_add(b, " (feat. ");
        nb_person(b, r);
        nb_add(b, ")");
    } else if (x < 950) {
        nb_add(b, ENC_RNG_PICK_STR(r, foreign));
    } else if (x < 975) { /* Hello, Stranger */
        nb_add(b, ENC_RNG_PICK_STR(r, interj));
        nb_add(b, ", ");
        nb_add(b, ENC_RNG_PICK_STR(r, addressee));
    } else if (x < 985) { /* Hello, "Stranger" */
        nb_add(b, ENC_RNG_PICK_STR(r, interj));
        nb_add(b, ", \"");
        nb_add(b, ENC_RNG_PICK_STR(r, addressee));
        nb_add(b, "\"");
    } else if (x < 993) { /* Heart (From "Golden Sky") */
        nb_add(b, ENC_RNG_PICK_STR(r, noun));
        nb_add(b, " (From \"");
        nb_add(b, ENC_RNG_PICK_STR(r, adj));
        nb_add(b, " ");
        nb_add(b, ENC_RNG_PICK_STR(r, noun));
        nb_add(b, "\")");
    } else { /* The "Lucky" One */
        nb_add(b, "The \"");
        nb_add(b, ENC_RNG_PICK_STR(r, adj));
        nb_add(b, "\" ");
        nb_add(b, ENC_RNG_PICK_STR(r, noun));
    }
}
