"""Interface texts in Indonesian (the default) and English.

A small catalogue: the exam's pages have a few dozen texts, and keeping both languages
side by side makes a missing translation visible in review. ``t`` is a Jinja global.
"""

from __future__ import annotations

from jinja2 import pass_context

LANGUAGES = ("id", "en")
LANG_COOKIE = "lang"

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (Indonesian, English)
    "app.name": ("Seleksi", "Seleksi"),
    "app.tagline": (
        "Seleksi berbasis komputer yang terbuka dan dapat diperiksa",
        "An open, checkable computer-based selection",
    ),
    "nav.logout": ("Keluar", "Log out"),
    "nav.bank": ("Bank soal", "Item bank"),
    "nav.import": ("Impor soal", "Import items"),
    "nav.language": ("English", "Bahasa Indonesia"),
    "login.title": ("Masuk", "Log in"),
    "login.username": ("Nomor peserta atau nama pengguna", "Registration number or username"),
    "login.password": ("Kata sandi", "Password"),
    "login.submit": ("Masuk", "Log in"),
    "login.failed": ("Nomor peserta atau kata sandi salah.", "Wrong username or password."),
    "login.limited": (
        "Terlalu banyak percobaan. Tunggu satu menit.",
        "Too many attempts. Wait a minute.",
    ),
    "bank.title": ("Bank soal", "Item bank"),
    "bank.search": ("Cari (kode atau isi soal)", "Search (id or text)"),
    "bank.domain": ("Bagian", "Section"),
    "bank.topic": ("Topik", "Topic"),
    "bank.status": ("Status", "Status"),
    "bank.any": ("Semua", "All"),
    "bank.filter": ("Saring", "Filter"),
    "bank.count": ("soal", "items"),
    "bank.id": ("Kode", "Id"),
    "bank.model": ("Model", "Model"),
    "bank.params": ("Parameter", "Parameters"),
    "bank.version": ("Versi", "Version"),
    "bank.exposure": ("Paparan", "Exposure"),
    "bank.dif": ("DIF", "DIF"),
    "bank.none": ("Tidak ada soal yang cocok.", "No matching items."),
    "bank.more": ("Halaman berikutnya", "Next page"),
    "item.stem": ("Soal", "Stem"),
    "item.options": ("Pilihan", "Options"),
    "item.key": ("Kunci", "Key"),
    "item.points": ("Poin", "Points"),
    "item.curve": ("Kurva informasi butir", "Item information curve"),
    "item.curve_alt": ("Informasi butir menurut kemampuan θ", "Item information by ability θ"),
    "item.stats": ("Statistik", "Statistics"),
    "item.responses": ("Jumlah respons", "Responses"),
    "item.p_value": ("Tingkat kesukaran (p)", "Difficulty (p-value)"),
    "item.pbis": ("Daya beda (korelasi point-biserial)", "Point-biserial correlation"),
    "item.no_data": ("Belum ada respons untuk soal ini.", "No responses to this item yet."),
    "item.versions": ("Riwayat versi", "Version history"),
    "item.enemies": (
        "Soal musuh (tidak boleh muncul bersama)",
        "Enemy items (never in one attempt)",
    ),
    "item.dif": ("Temuan DIF", "DIF findings"),
    "item.no_params": ("Belum dikalibrasi", "Not calibrated"),
    "item.set_status": ("Ubah status", "Change status"),
    "import.title": ("Impor soal", "Import items"),
    "import.help": (
        "Unggah berkas .csv, .json, atau paket IMS QTI 2.1/3.0 (.zip). Jika ada "
        "kesalahan, tidak ada satu soal pun yang diimpor.",
        "Upload a .csv, .json or IMS QTI 2.1/3.0 package (.zip). If anything is "
        "wrong, nothing is imported.",
    ),
    "import.file": ("Berkas", "File"),
    "import.submit": ("Impor", "Import"),
    "import.errors": (
        "Kesalahan ditemukan; tidak ada soal yang diimpor:",
        "Problems found; nothing was imported:",
    ),
    "import.done": ("Impor berhasil:", "Imported:"),
    "nav.dif": ("DIF", "DIF"),
    "dif.title": ("Keadilan butir (DIF)", "Item fairness (DIF)"),
    "dif.help": (
        "Analisis Mantel–Haenszel menurut atribut kelompok (misalnya jenis kelamin, "
        "wilayah, kelompok usia). Butir kelas C tidak boleh dipakai dalam ujian "
        "sebelum panitia mencatat keputusan beserta alasannya.",
        "Mantel–Haenszel analysis by a group attribute (e.g. gender, region, age "
        "band). A class C item cannot go into a live exam until the committee "
        "records a decision with its reason.",
    ),
    "dif.responses": (
        "Berkas respons (person_id,<kode soal>,…)",
        "Responses file (person_id,<item id>,…)",
    ),
    "dif.groups": ("Berkas kelompok (person_id,<atribut>)", "Groups file (person_id,<attribute>)"),
    "dif.attribute": ("Atribut", "Attribute"),
    "dif.focal": ("Kelompok fokal", "Focal group"),
    "dif.run": ("Analisis", "Analyse"),
    "dif.unresolved": (
        "Butir kelas C yang menunggu keputusan",
        "Class C items awaiting a decision",
    ),
    "dif.none": (
        "Tidak ada butir kelas C yang menunggu keputusan.",
        "No class C item awaits a decision.",
    ),
    "dif.recent": ("Temuan terbaru", "Recent findings"),
    "dif.decision": ("Keputusan", "Decision"),
    "dif.keep": ("Tetap dipakai (setelah ditelaah)", "Keep (after review)"),
    "dif.retire": ("Tarik dari bank", "Retire"),
    "dif.note": ("Alasan", "Reason"),
    "dif.record": ("Catat keputusan", "Record decision"),
    "exam.my_exams": ("Ujian saya", "My exams"),
    "exam.none": ("Anda belum terdaftar pada ujian mana pun.", "You are not enrolled in any exam."),
    "exam.sections": ("Bagian ujian", "Exam sections"),
    "exam.section": ("Bagian", "Section"),
    "exam.items": ("Jumlah soal", "Items"),
    "exam.adaptive_items": ("{min}–{max} soal (adaptif)", "{min}–{max} items (adaptive)"),
    "exam.passing_grade": ("Nilai ambang batas", "Passing grade"),
    "exam.total_time": ("Waktu", "Time"),
    "exam.minutes": ("menit", "minutes"),
    "exam.rule_saved": (
        "Jawaban tersimpan setiap kali Anda menekan Simpan. Jika koneksi "
        "terputus atau halaman tertutup, masuk lagi: ujian dilanjutkan dari "
        "soal yang sama. Waktu dihitung oleh server.",
        "Each answer is saved when you press Save. If the connection drops or "
        "the page closes, log in again: the exam continues at the same item. "
        "The timer is kept by the server.",
    ),
    "exam.rule_adaptive": (
        "Pada bagian adaptif, soal yang sudah dijawab tidak dapat dibuka kembali.",
        "In an adaptive section you cannot go back to earlier items.",
    ),
    "exam.rule_keys": (
        "Pilih jawaban dengan tombol A–E atau 1–5, lalu tekan Enter.",
        "Choose with the keys A–E or 1–5, then press Enter.",
    ),
    "exam.start": ("Mulai ujian", "Start the exam"),
    "exam.not_open": ("Ujian belum dibuka.", "The exam is not open."),
    "exam.item": ("Soal", "Item"),
    "exam.submit": ("Simpan jawaban", "Save answer"),
    "exam.saved": ("Tersimpan", "Saved"),
    "exam.status": ("Status ujian", "Exam status"),
    "exam.time_left": ("Sisa waktu", "Time left"),
    "exam.five_minutes": ("Sisa waktu 5 menit.", "5 minutes left."),
    "exam.one_minute": ("Sisa waktu 1 menit.", "1 minute left."),
    "exam.retrying": ("Belum tersimpan — mencoba lagi otomatis…", "Not saved yet — retrying…"),
    "exam.offline": ("koneksi terputus", "offline"),
    "exam.online": ("terhubung", "online"),
    "exam.resumed": ("Ujian dilanjutkan.", "Exam resumed."),
    "exam.finish_early": ("Selesaikan ujian sekarang", "Finish the exam now"),
    "exam.finish_confirm": (
        "Selesaikan ujian sekarang? Soal yang belum dijawab tidak dapat dikerjakan lagi.",
        "Finish now? Unanswered items cannot be taken later.",
    ),
    "exam.result": ("Hasil ujian", "Exam result"),
    "exam.points": ("Nilai", "Points"),
    "exam.outcome": ("Keterangan", "Outcome"),
    "exam.pass": ("memenuhi", "passed"),
    "exam.fail": ("tidak memenuhi", "not passed"),
    "exam.total": ("Total", "Total"),
    "exam.pass_all": ("memenuhi semua ambang batas", "passed every passing grade"),
    "exam.fail_some": ("tidak memenuhi semua ambang batas", "did not pass every passing grade"),
    "exam.receipt": ("Tanda terima", "Receipt"),
    "exam.receipt_help": (
        "Setiap jawaban Anda tercatat di log audit publik dengan nomor "
        "berikut. Pengamat independen dapat memeriksanya.",
        "Every answer you gave is in the public audit log under these "
        "numbers. Independent observers can check them.",
    ),
    "exam.answers_logged": ("Jawaban tercatat", "Answers logged"),
    "exam.print": ("Cetak", "Print"),
    "status.draft": ("draf", "draft"),
    "status.pilot": ("uji coba", "pilot"),
    "status.operational": ("operasional", "operational"),
    "status.retired": ("ditarik", "retired"),
}


def lang_of(request) -> str:
    lang = request.cookies.get(LANG_COOKIE) if request is not None else None
    if lang in LANGUAGES:
        return lang
    return (
        getattr(getattr(request, "app", None), "state", {}).get("language", "id")
        if request is not None
        else "id"
    )


def translate(lang: str, key: str) -> str:
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[LANGUAGES.index(lang) if lang in LANGUAGES else 0]


@pass_context
def t(context, key: str) -> str:
    """Jinja global: the text ``key`` in the request's language."""
    return translate(lang_of(context.get("request")), key)
