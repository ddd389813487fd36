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
    "login.ended": (
        "Sesi Anda telah diakhiri karena kata sandi akun ini sudah diatur ulang. "
        "Masuk kembali dengan kata sandi yang baru.",
        "Your session was ended because the password of this account was reset. "
        "Log in again with the new password.",
    ),
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
    "exam.cat.outcome": ("Keterangan", "Outcome"),
    "exam.pass": ("memenuhi", "passed"),
    "exam.fail": ("tidak memenuhi", "not passed"),
    "exam.total": ("Total", "Total"),
    "exam.pass_all": ("memenuhi semua ambang batas", "passed every passing grade"),
    "exam.fail_some": ("tidak memenuhi semua ambang batas", "did not pass every passing grade"),
    "exam.receipt": ("Tanda terima", "Receipt"),
    "exam.own_openings": (
        "Pembuka segel jawaban Anda (JSON): bukti bahwa setiap segel di log publik adalah "
        "jawaban Anda. Simpan untuk diri sendiri; jangan dibagikan.",
        "The openings of your answers (JSON): proof that each seal in the public log is "
        "your answer. Keep it to yourself; do not share it.",
    ),
    "exam.receipt_help": (
        "Setiap jawaban Anda tercatat di log audit publik dengan nomor "
        "berikut, sebagai segel yang tidak memperlihatkan soal atau pilihan Anda. "
        "Pengamat independen dapat memeriksanya.",
        "Every answer you gave is in the public audit log under these "
        "numbers, as a seal that shows neither the item nor your choice. "
        "Independent observers can check them.",
    ),
    "exam.answers_logged": ("Jawaban tercatat", "Answers logged"),
    "exam.print": ("Cetak", "Print"),
    "status.draft": ("draf", "draft"),
    "status.pilot": ("uji coba", "pilot"),
    "status.operational": ("operasional", "operational"),
    "status.retired": ("ditarik", "retired"),
    "nav.exams": ("Ujian", "Exams"),
    "exams.title": ("Ujian", "Exams"),
    "exams.new": ("Buat ujian baru", "New exam"),
    "exams.new_skd": ("Buat dari templat SKD", "New from the SKD template"),
    "exams.none": ("Belum ada ujian.", "No exams yet."),
    "exams.code": ("Kode", "Code"),
    "exams.name": ("Nama ujian", "Exam name"),
    "exams.status": ("Status", "Status"),
    "exams.enrolled": ("Peserta", "Applicants"),
    "exams.started": ("Mulai", "Started"),
    "exams.finished": ("Selesai", "Finished"),
    "exams.definition": ("Susunan ujian", "Exam definition"),
    "exams.edit": ("Ubah", "Edit"),
    "exams.check": ("Periksa (kelayakan dan simulasi)", "Check (feasibility and simulation)"),
    "exams.checking": ("Memeriksa…", "Checking…"),
    "exams.open": ("Buka ujian", "Open the exam"),
    "exams.open_help": (
        "Membuka ujian membekukan bank soal dan mencatat komitmen ujian (hash susunan, "
        "parameter soal dan benih acak) di log audit. Susunan tidak bisa diubah lagi.",
        "Opening freezes the item bank and records the exam's commitment (hashes of the "
        "definition, the item parameters and the random seed) in the audit log. The "
        "definition cannot change afterwards.",
    ),
    "exams.close": ("Tutup ujian", "Close the exam"),
    "exams.close_help": (
        "Tutup setelah sesi terakhir: log audit menerima benih acak dan susunan ujian, dan "
        "pengamat yang masuk menerima pembuka segel setiap jawaban, sehingga mereka dapat "
        "memeriksa ulang setiap nilai. Publik tetap hanya melihat segel selama soalnya "
        "masih dipakai.",
        "Close after the last session: the audit log receives the random seed and the "
        "definition, and logged-in observers receive the opening of every sealed answer, so "
        "that they can recheck every score. The public sees only the seals while the items "
        "are still in use.",
    ),
    "notice.closed": (
        "Ujian ditutup; benih acaknya tercatat di log audit.",
        "The exam is closed; its random seed is in the audit log.",
    ),
    "exams.retire": ("Pensiunkan soal ujian ini", "Retire this exam's items"),
    "exams.retire_help": (
        "Semua soal yang dapat muncul di ujian ini tidak akan dipakai lagi, dan pembuka segel "
        "setiap jawaban menjadi terbuka untuk semua orang (tercatat di log audit).",
        "Every item this exam could serve is retired for good, and the opening of every "
        "sealed answer becomes public (recorded in the audit log).",
    ),
    "exams.retired": (
        "Soal ujian ini sudah pensiun; pembuka segelnya terbuka untuk umum.",
        "This exam's items are retired; its openings are public.",
    ),
    "notice.retired": (
        "Soal dipensiunkan; pembuka segel kini terbuka untuk umum.",
        "The items are retired; the openings are now public.",
    ),
    "obs.sealed": (
        "Selama ujian berlangsung, setiap jawaban di log publik tersegel: pengamat menerima "
        "pembuka segelnya saat ujian ditutup, publik saat soalnya dipensiunkan.",
        "While the exam runs, every answer in the public log is sealed: observers receive "
        "the openings when the exam closes, the public when its items are retired.",
    ),
    "rev.sealed": (
        "Bukti per soal (soal, pilihan, benar atau salah) tersegel sampai ujian ditutup, "
        "karena dapat membuka kunci soal yang masih dipakai.",
        "The per-item evidence (items, choices, right or wrong) is sealed until the exam "
        "closes, since it could reveal the keys of items still in use.",
    ),
    "exams.openings": ("Unduh pembuka segel (JSON)", "Download the openings (JSON)"),
    "exams.cannot_open": ("Ujian belum bisa dibuka:", "The exam cannot open yet:"),
    "exam_status.draft": ("draf", "draft"),
    "exam_status.open": ("dibuka", "open"),
    "exam_status.closed": ("ditutup", "closed"),
    "notice.created": ("Ujian dibuat sebagai draf.", "The exam was created as a draft."),
    "notice.saved": ("Perubahan disimpan.", "Changes saved."),
    "notice.opened": (
        "Ujian dibuka; komitmennya tercatat di log audit.",
        "The exam is open; its commitment is in the audit log.",
    ),
    "notice.extra_time": ("Tambahan waktu disimpan dan dicatat.", "Extra time saved and logged."),
    "builder.title": ("Ujian baru", "New exam"),
    "builder.edit": ("Ubah ujian", "Edit exam"),
    "builder.errors": ("Periksa isian berikut:", "Please check these fields:"),
    "builder.exam": ("Ujian", "Exam"),
    "builder.duration": ("Durasi (menit)", "Duration (minutes)"),
    "builder.points_correct": ("Poin per jawaban benar", "Points per correct answer"),
    "builder.opens": ("Dibuka", "Opens"),
    "builder.closes": ("Ditutup", "Closes"),
    "builder.section": ("Bagian", "Section"),
    "builder.section_name": ("Nama bagian", "Section name"),
    "builder.domain": ("Ranah bank soal", "Bank domain"),
    "builder.kind": ("Jenis", "Type"),
    "builder.min_items": ("Soal minimum", "Minimum items"),
    "builder.max_items": ("Soal maksimum", "Maximum items"),
    "builder.se_target": ("Berhenti pada SE ≤", "Stop at SE ≤"),
    "builder.passing_grade": ("Nilai ambang batas", "Passing grade"),
    "builder.time_limit": ("Batas waktu bagian (menit)", "Section time limit (minutes)"),
    "builder.exposure": ("Kendali paparan", "Exposure control"),
    "builder.topics": (
        "Aturan topik (satu per baris: topik min maks)",
        "Topic rules (one per line: topic min max)",
    ),
    "builder.help": (
        "Bagian tetap memakai jumlah soal maksimum. Bagian tanpa nama diabaikan.",
        "A fixed section uses the maximum number of items. Sections without a name are left out.",
    ),
    "builder.topics_short": ("Aturan topik", "Topic rules"),
    "builder.add_section": ("Tambah bagian", "Add a section"),
    "builder.save": ("Simpan draf", "Save draft"),
    "kind.adaptive": ("adaptif", "adaptive"),
    "kind.fixed": ("tetap", "fixed"),
    "exposure.sympson-hetter": ("Sympson–Hetter", "Sympson–Hetter"),
    "exposure.randomesque": ("acak dari k terbaik", "randomesque"),
    "exposure.none": ("tanpa", "none"),
    "check.feasible": ("Susunan layak.", "The blueprint is feasible."),
    "check.infeasible": ("Susunan tidak layak:", "The blueprint is infeasible:"),
    "check.simulated": ("Peserta simulasi:", "Simulated applicants:"),
    "check.length": ("Jumlah soal", "Items"),
    "check.bias": ("Bias θ", "Bias θ"),
    "check.max_exposure": ("Paparan maks.", "Max. exposure"),
    "check.overlap": ("Tumpang tindih", "Overlap"),
    "check.pool": ("Soal di bank", "Items in the pool"),
    "check.plot_alt": (
        "Presisi bersyarat dan sebaran paparan soal, bagian",
        "Conditional precision and item exposure, section",
    ),
    "check.plot_caption": (
        "RMSE, SE rata-rata dan bias menurut θ sebenarnya (kiri); laju paparan soal (kanan).",
        "RMSE, mean SE and bias by true θ (left); item exposure rates (right).",
    ),
    "enroll.title": ("Peserta", "Applicants"),
    "enroll.help": (
        "Berkas CSV dengan kolom registration_number,name,formation; kolom track dan "
        "extra_time_minutes boleh ada; kolom lain (mis. gender, region) menjadi atribut "
        "kelompok untuk analisis keadilan. Setiap kesalahan ditampilkan dengan barisnya, "
        "dan tidak ada yang didaftarkan selama masih ada kesalahan.",
        "A CSV file with the columns registration_number,name,formation; track and "
        "extra_time_minutes are optional; any other column (e.g. gender, region) is a group "
        "attribute for the fairness analyses. Every error is shown with its line, and nobody "
        "is enrolled while there is one.",
    ),
    "enroll.file": ("Berkas peserta (CSV)", "Applicants file (CSV)"),
    "enroll.submit": ("Daftarkan dan buat kartu login", "Enroll and make login sheets"),
    "enroll.sheets_all": (
        "Kartu login baru untuk semua yang belum mulai",
        "New login sheets for everyone who has not started",
    ),
    "enroll.search": ("Cari nomor atau nama", "Search number or name"),
    "enroll.track": ("Jalur", "Track"),
    "enroll.attempt": ("Ujian", "Attempt"),
    "enroll.extra_time": ("Tambahan waktu (menit)", "Extra time (minutes)"),
    "enroll.save": ("Simpan", "Save"),
    "enroll.login_sheet": ("Kartu login", "Login sheet"),
    "enroll.new_password": ("Kata sandi baru", "New password"),
    "enroll.more": (
        "Hanya 200 peserta pertama yang ditampilkan; gunakan pencarian.",
        "Only the first 200 applicants are shown; use the search.",
    ),
    "attempt_status.none": ("belum mulai", "not started"),
    "attempt_status.active": ("sedang ujian", "in progress"),
    "attempt_status.finished": ("selesai", "finished"),
    "sheet.title": ("Kartu login", "Login sheets"),
    "sheet.count": ("kartu", "sheets"),
    "sheet.warning": (
        "Cetak sekarang: kata sandi tidak disimpan dan tidak bisa ditampilkan lagi. "
        "Kartu baru membuat kata sandi baru.",
        "Print now: passwords are not stored and cannot be shown again. New sheets make new "
        "passwords.",
    ),
    "sheet.print": ("Cetak", "Print"),
    "sheet.name": ("Nama", "Name"),
    "sheet.formation": ("Formasi", "Position"),
    "sheet.username": ("Nomor peserta", "Registration number"),
    "sheet.unchanged": ("(akun lama, kata sandi tidak berubah)", "(existing account, unchanged)"),
    "sheet.note": (
        "Simpan kartu ini. Jangan berikan kata sandi kepada siapa pun.",
        "Keep this sheet. Do not share the password with anyone.",
    ),
    "obs.title": ("Pemantauan", "Observation"),
    "obs.intro": (
        "Semua yang tampak di sini berasal dari log audit publik: peserta muncul dengan "
        "pseudonim, tanpa isi soal dan tanpa kunci. Setiap tampilan menyebut ukuran log "
        "yang dicerminkannya.",
        "Everything here comes from the public audit log: applicants appear by pseudonym, "
        "with no item content and no keys. Every view states the log size it reflects.",
    ),
    "obs.no_exams": ("Belum ada ujian yang dibuka.", "No exam has opened yet."),
    "obs.boards": ("Papan skor", "Live boards"),
    "obs.board": ("Papan skor langsung", "Live board"),
    "obs.board_help": (
        "Diperbarui otomatis dalam satu detik setelah setiap jawaban. Lulus berarti "
        "memenuhi setiap nilai ambang batas; ini bukan pengumuman hasil.",
        "Updates by itself within a second of every answer. Passing means meeting every "
        "passing grade; this is not the published result.",
    ),
    "obs.trail": ("Jejak audit", "Audit trail"),
    "obs.flags": ("Tanda", "Flags"),
    "obs.verify": ("Verifikasi", "Verify"),
    "obs.reflects": ("Mencerminkan log berukuran", "Reflects the log at size"),
    "obs.entries": ("entri", "entries"),
    "obs.pseudonym": ("Pseudonim", "Pseudonym"),
    "obs.passes": ("memenuhi", "passes"),
    "obs.fails": ("tidak memenuhi", "does not pass"),
    "score.mismatch": (
        "tidak cocok dengan log audit",
        "does not match the audit log",
    ),
    "score.mismatch_help": (
        "Nilai yang tersimpan berbeda dengan yang dinyatakan log audit; nilai ini tidak "
        "ditampilkan dan panitia telah diberi tahu.",
        "The stored score differs from what the audit log states; it is not shown and the "
        "committee has been told.",
    ),
    "score.mismatch_committee": (
        "Baris berikut tidak cocok dengan log audit, sehingga hasil tidak dapat diumumkan:",
        "These rows do not match the audit log, so the results cannot be published:",
    ),
    "obs.checking": (
        "Memeriksa checkpoint di peramban ini…",
        "Checking the checkpoint in this browser…",
    ),
    "obs.exam": ("Ujian", "Exam"),
    "obs.type": ("Jenis", "Type"),
    "obs.index": ("Indeks", "Index"),
    "obs.time": ("Waktu", "Time"),
    "obs.details": ("Rincian", "Details"),
    "obs.pause": ("Jeda", "Pause"),
    "obs.resume": ("Lanjutkan", "Resume"),
    "obs.shown": ("ditampilkan", "shown"),
    "obs.stream_note": (
        "terbaru di atas; indeks membuka entri mentahnya",
        "newest first; the index opens the raw entry",
    ),
    "obs.flags_help": (
        "Kejadian peramban (halaman tersembunyi, pindah jendela, keluar layar penuh, salin, "
        "tempel, menu konteks, perubahan alamat atau peramban) untuk ditinjau manusia. "
        "Tanda tidak pernah menggugurkan peserta secara otomatis.",
        "Browser events (page hidden, window left, fullscreen exit, copy, paste, context "
        "menu, a change of address or browser) for human review. A flag never disqualifies "
        "anyone automatically.",
    ),
    "obs.events": ("Kejadian", "Events"),
    "obs.step": ("langkah", "step"),
    "obs.no_flags": ("Tidak ada tanda.", "No flags."),
    "obs.notes": ("Catatan kejadian", "Incident notes"),
    "obs.note": ("Catatan", "Note"),
    "obs.optional": ("boleh kosong", "optional"),
    "obs.note_help": (
        "Catatan masuk ke log audit publik: jangan menulis nama atau data pribadi.",
        "Notes go into the public audit log: do not write names or personal data.",
    ),
    "obs.add_note": ("Catat", "Add the note"),
    "obs.key": ("Kunci verifikasi log", "The log's verifier key"),
    "obs.latest_checkpoint": ("Checkpoint terakhir", "Latest checkpoint"),
    "obs.no_checkpoint": ("Belum ada checkpoint.", "No checkpoint yet."),
    "obs.signer_alarm": (
        "PERINGATAN: penanda tangan log menolak menandatangani. Isi basis data tidak lagi "
        "konsisten dengan checkpoint terakhir yang ia tandatangani: riwayat log mungkin telah "
        "diubah. Checkpoint di bawah ini adalah yang terakhir yang sah; simpan dan periksa "
        "log dengan checkpoint lama Anda.",
        "WARNING: the log signer refuses to sign. The database is no longer consistent with "
        "the last checkpoint it signed: the log's history may have been rewritten. The "
        "checkpoint below is the last good one; keep it and check the log against your "
        "earlier checkpoints.",
    ),
    "obs.signer_alarm_since": ("Terdeteksi", "Detected"),
    "err.signer_refused": (
        "Penanda tangan log menolak menandatangani checkpoint baru (alarm integritas log). "
        "Hubungi operator; tidak ada yang diubah.",
        "The log signer refuses to sign a new checkpoint (a log integrity alarm). Contact "
        "the operators; nothing was changed.",
    ),
    "obs.own_computer": ("Periksa di komputer Anda sendiri", "Check on your own computer"),
    "obs.own_help": (
        "Perintah ini mengunduh seluruh log, memeriksa tanda tangan dan akar Merkle, aturan "
        "kejadian, dan memutar ulang setiap ujian yang sudah ditutup.",
        "This command downloads the whole log, checks the signature and the Merkle root, "
        "the event rules, and replays every attempt of every closed exam.",
    ),
    "obs.state_help": (
        "Perintah ini menyimpan checkpoint terakhir yang diperiksa: pemeriksaan berikutnya "
        "membuktikan bahwa log hanya bertambah.",
        "The command keeps the last checkpoint it verified: the next run proves that the "
        "log only grew.",
    ),
    "exam.checkpoint_size": ("checkpoint log berukuran", "log checkpoint of size"),
    "exam.verification_code": ("kode verifikasi", "verification code"),
    "exam.receipt_entries": ("Entri log setiap jawaban", "The log entry of each answer"),
    "exam.step": ("Soal", "Item"),
    "exam.proof": ("Bukti (unduh)", "Proof (download)"),
    "exam.receipt_command": (
        "Setiap bukti dapat diperiksa tanpa server, di komputer siapa pun, dengan kunci "
        "verifikasi log:",
        "Each proof can be checked without the server, on anyone's computer, with the "
        "log's verifier key:",
    ),
    "rules.title": ("Aturan seleksi", "Selection rules"),
    "rules.help": (
        "Dicatat di log audit saat ujian dibuka. Peserta pada suatu jalur dinilai dengan "
        "aturan jalurnya, bukan dengan nilai ambang batas tiap bagian.",
        "Committed to the audit log when the exam opens. An applicant on a track is judged "
        "by the track's rule instead of the section passing grades.",
    ),
    "rules.vacancies": (
        "Kebutuhan per formasi (satu per baris: formasi jumlah)",
        "Vacancies per formation (one per line: formation count)",
    ),
    "rules.quota": ("Kelipatan kuota ke tahap berikutnya", "Quota multiple for the next stage"),
    "rules.tie_break": (
        "Urutan penentu bila nilai total sama",
        "Tie-break order when totals are equal",
    ),
    "rules.final": (
        "Nilai akhir berbobot, boleh kosong (satu per baris: tahap BAGIAN+BAGIAN maks persen)",
        "Weighted final score, optional (one per line: stage SECTION+SECTION max percent)",
    ),
    "rules.final_tie_break": (
        "Urutan penentu untuk nilai akhir",
        "Tie-break order for the final score",
    ),
    "rules.tracks": (
        "Jalur khusus (satu per baris: jalur total_min BAGIAN:min)",
        "Special tracks (one per line: track total_min SECTION:min)",
    ),
    "res.title": ("Hasil seleksi", "Selection results"),
    "res.rules": ("Aturan yang berlaku", "The rules applied"),
    "res.vacancies": ("kebutuhan", "vacancies"),
    "res.absent": (
        "peserta terdaftar tidak menyelesaikan ujian dan tidak diperingkat.",
        "enrolled applicants did not finish the exam and are not ranked.",
    ),
    "res.none": ("Belum ada peserta yang selesai.", "No applicant has finished."),
    "res.publish": ("Umumkan", "Publish"),
    "res.publish_help": (
        "Mengumumkan mencatat tabel ini di log audit: isinya, SHA-256-nya dan checkpoint "
        "log yang menjadi dasar perhitungannya. Pengumuman tidak bisa ditarik; versi baru "
        "(setelah sanggahan diterima) tampil di samping versi pertama.",
        "Publishing records this table in the audit log: its content, its SHA-256 and the "
        "log checkpoint it was computed from. A publication cannot be withdrawn; a new "
        "version (after an upheld appeal) shows beside the first.",
    ),
    "res.show_names": (
        "Tampilkan nama peserta di halaman publik (bukan pseudonim)",
        "Show applicants' names on the public page (instead of pseudonyms)",
    ),
    "res.publish_button": ("Umumkan hasil", "Publish the results"),
    "res.close_first": (
        "Tutup ujian terlebih dahulu: hasil diumumkan setelah sesi terakhir.",
        "Close the exam first: results are published after the last session.",
    ),
    "res.versions": ("Versi yang diumumkan", "Published versions"),
    "res.version": ("Versi", "Version"),
    "res.latest": ("versi terbaru", "latest version"),
    "res.bound": ("Terikat pada", "Bound to"),
    "res.rank": ("Peringkat", "Rank"),
    "res.applicant": ("Peserta", "Applicant"),
    "res.proceeds": ("Lanjut", "Proceeds"),
    "res.yes": ("ya", "yes"),
    "res.plot_alt": (
        "Sebaran nilai tiap bagian dengan garis nilai ambang batas",
        "Distribution of each section's points with its passing grade",
    ),
    "res.plot_caption": (
        "Sebaran nilai; garis putus-putus: nilai ambang batas.",
        "Score distributions; dashed line: the passing grade.",
    ),
    "res.verify_help": (
        "Siapa pun dapat menghitung ulang tabel ini dari log audit: seleksi log verify "
        "--url <alamat ini>.",
        "Anyone can recompute this table from the audit log: seleksi log verify --url <this site>.",
    ),
    "res.check": ("Pemeriksaan hasil", "Result check"),
    "res.entry": ("Entri log pengumuman", "The publication's log entry"),
    "res.show_entry": ("Tampilkan entri", "Show the entry"),
    "res.offline": ("Periksa tanpa server", "Check without the server"),
    "res.offline_help": (
        "Simpan teks di bawah sebagai berkas .tlog-proof dan periksa dengan: seleksi log "
        "receipt BERKAS --key KUNCI.",
        "Save the text below as a .tlog-proof file and check it with: seleksi log receipt "
        "FILE --key KEY.",
    ),
    "res.changes": ("Perubahan dari versi", "Changes from version"),
    "res.no_changes": ("Tidak ada yang berubah.", "Nobody changed."),
    "res.certificate": ("Unduh sertifikat (PDF)", "Download the certificate (PDF)"),
    "exams.results": ("Hasil dan pengumuman", "Results and publication"),
    "appeal.title": ("Sanggahan", "Appeals"),
    "appeal.window": ("Sanggahan dapat diajukan sampai", "Appeals may be filed until"),
    "appeal.not_yet": ("Hasil belum diumumkan.", "The results are not published yet."),
    "appeal.text": ("Isi sanggahan", "Your appeal"),
    "appeal.references": (
        "Indeks entri log sebagai bukti (boleh kosong)",
        "Log entry indices as evidence (optional)",
    ),
    "appeal.help": (
        "Log audit mencatat bahwa Anda mengajukan sanggahan, buktinya, dan sidik (SHA-256) "
        "teksnya; teksnya sendiri hanya dibaca panitia.",
        "The audit log records that you appealed, the evidence and the text's fingerprint "
        "(SHA-256); the text itself is read by the committee only.",
    ),
    "appeal.file": ("Ajukan sanggahan", "File the appeal"),
    "appeal.status_filed": ("diajukan", "filed"),
    "appeal.status_upheld": ("diterima", "upheld"),
    "appeal.status_rejected": ("ditolak", "rejected"),
    "appeal.evidence": ("bukti", "evidence"),
    "appeal.decision": ("Keputusan", "Decision"),
    "appeal.answer": ("Jawaban panitia", "The committee's answer"),
    "appeal.rekey_item": ("Ubah kunci soal (kode soal)", "Re-key item (item id)"),
    "appeal.rekey_key": ("Jawaban benar yang baru", "New correct option"),
    "appeal.rekey_help": (
        "Mengubah kunci menilai ulang semua peserta yang menjawab soal itu dan dicatat di log; "
        "lalu umumkan versi hasil yang baru.",
        "Re-keying re-scores every applicant who answered the item and is logged; then "
        "publish a new version of the results.",
    ),
    "appeal.send": ("Kirim jawaban", "Send the answer"),
    "appeal.none": ("Belum ada sanggahan.", "No appeals."),
    "appeal.link": ("Sanggahan", "Appeals"),
    "cp.none": ("Belum ada checkpoint bertanda tangan.", "No signed checkpoint yet."),
    "cp.bad_signature": (
        "tanda tangan checkpoint TIDAK sah",
        "the checkpoint's signature does NOT verify",
    ),
    "cp.verified": (
        "ukuran log {size} · tanda tangan checkpoint ✓ terverifikasi di peramban ini",
        "log size {size} · checkpoint signature ✓ verified in this browser",
    ),
    "cp.consistent": (
        "konsisten dengan ukuran {seen} yang dilihat sebelumnya ✓",
        "consistent with size {seen} seen before ✓",
    ),
    "cp.inconsistent": (
        "log TIDAK konsisten dengan checkpoint berukuran {seen} yang pernah dilihat peramban ini",
        "the log is NOT consistent with the checkpoint of size {seen} this browser saw before",
    ),
    "cp.error": (
        "tidak dapat memeriksa di sini ({error})",
        "could not check here ({error})",
    ),
    "check.ok": (
        "terverifikasi di peramban ini: entri {index} ada di log yang ditandatangani pada "
        "ukuran {size}, SHA-256 tabelnya cocok, dan baris peserta ini ada di dalamnya",
        "verified in this browser: entry {index} is in the log signed at size {size}, its "
        "table's SHA-256 matches, and this applicant's row is in it",
    ),
    "check.not_in_log": (
        "entri pengumuman tidak ada di log yang ditandatangani",
        "the results entry is not in the signed log",
    ),
    "check.table": (
        "tabel tidak cocok dengan SHA-256-nya",
        "the table does not match its SHA-256",
    ),
    "check.not_in_table": (
        "peserta ini tidak ada di tabel yang diumumkan",
        "this applicant is not in the published table",
    ),
    "rev.title": ("Antrean telaah tanda", "Flag review queue"),
    "rev.help": (
        "Tanda statistik adalah alasan untuk menelaah, bukan sanksi. Setiap tanda, catatan dan "
        "keputusan tercatat di log audit.",
        "A statistical flag is a reason to look, never a sanction. Every flag, note and "
        "decision is an entry of the audit log.",
    ),
    "rev.level": ("Tingkat FDR", "FDR level"),
    "rev.compromised": ("Soal yang diduga bocor", "Items marked as possibly compromised"),
    "rev.open": ("Terbuka", "Open"),
    "rev.run": ("Jalankan analisis", "Run the screening"),
    "rev.run_help": (
        "Menganalisis semua jawaban sampai saat ini; tanda baru masuk antrean dan log.",
        "Analyses every answer so far; new flags enter the queue and the log.",
    ),
    "rev.settings": ("Pengaturan analisis (panitia)", "Screening settings (committee)"),
    "rev.no_items": ("Belum ada soal yang disajikan.", "No item has been served yet."),
    "rev.save": ("Simpan pengaturan", "Save the settings"),
    "rev.queue": ("Tanda per statistik", "Flags by statistic"),
    "rev.kind": ("Statistik", "Statistic"),
    "rev.count": ("Tanda", "Flags"),
    "rev.kind.person_fit": ("Kecocokan pola jawaban (lz*)", "Person fit (lz*)"),
    "rev.kind.cusum": ("CUSUM (pergantian penjawab)", "CUSUM (change of answerer)"),
    "rev.kind.response_time": ("Pola waktu jawab (L_T)", "Response-time pattern (L_T)"),
    "rev.kind.rapid_guessing": ("Menebak cepat (NT10)", "Rapid guessing (NT10)"),
    "rev.kind.preknowledge": ("Pengetahuan soal bocor (L_s)", "Item preknowledge (L_s)"),
    "rev.kind.preknowledge_time": (
        "Pengetahuan soal bocor, waktu (L_s)",
        "Item preknowledge, times (L_s)",
    ),
    "rev.kind.similarity": ("Kemiripan jawaban (GBT)", "Answer similarity (GBT)"),
    "rev.status.open": ("terbuka", "open"),
    "rev.status.no_action": ("tidak ada tindak lanjut", "no further action"),
    "rev.status.referred": ("diteruskan untuk pemeriksaan", "referred for examination"),
    "rev.statistic": ("Statistik", "Statistic"),
    "rev.logged": ("log", "log"),
    "rev.commitment": ("Komitmen (SHA-256) di log", "Commitment (SHA-256) in the log"),
    "rev.evidence": ("Bukti", "Evidence"),
    "rev.choice": ("Pilihan", "Choice"),
    "rev.score": ("Skor", "Score"),
    "rev.expected": ("Harapan", "Expected"),
    "rev.seconds": ("Detik", "Seconds"),
    "rev.more": ("Keterangan", "Notes"),
    "rev.correct": ("Benar", "Correct"),
    "rev.note": ("Catatan", "Note"),
    "rev.decision": ("Keputusan", "Decision"),
    "rev.just_note": ("(hanya catatan)", "(a note only)"),
    "rev.add": ("Tambahkan", "Add"),
    "rev.none": ("Belum ada tanda.", "No flags yet."),
    "fair.title": ("Laporan keadilan", "Fairness report"),
    "fair.help": (
        "Ujian yang sama bagi semua: presisi yang sama pada kemampuan yang sama untuk setiap "
        "kelompok, soal tanpa DIF, paparan soal yang merata.",
        "The same exam for everyone: equal precision at equal ability for every group, items "
        "without DIF, evenly spread item exposure.",
    ),
    "fair.export": ("Unduh laporan (HTML)", "Download the report (HTML)"),
    "fair.attempts": ("peserta", "attempts"),
    "fair.no_data": ("Belum ada hasil di bagian ini.", "No results in this section yet."),
    "fair.se": ("Galat baku per kemampuan dan kelompok", "Standard error by ability and group"),
    "fair.se_help": (
        "Rata-rata SE θ̂ per selang θ̂ untuk setiap kelompok, dengan selang kepercayaan 95 %.",
        "Mean SE of θ̂ per θ̂ bin for each group, with 95 % intervals.",
    ),
    "fair.attribute": ("Atribut", "Attribute"),
    "fair.ratio": ("Rasio SE terbesar", "Largest SE ratio"),
    "fair.groups": ("Kelompok", "Groups"),
    "fair.group": ("Kelompok", "Group"),
    "fair.no_gap": (
        "Tidak ada selang dengan cukup peserta per kelompok untuk dibandingkan.",
        "No bin has enough applicants per group to compare.",
    ),
    "fair.bins": ("Semua selang", "Every bin"),
    "fair.no_groups": ("Tidak ada atribut kelompok yang tercatat.", "No group attribute recorded."),
    "fair.dif": (
        "DIF per atribut (Mantel–Haenszel, kelas ETS)",
        "DIF by attribute (Mantel–Haenszel, ETS classes)",
    ),
    "fair.dif_help": ("Perbandingan soal × kelompok:", "Item × group comparisons:"),
    "fair.comparisons": ("perbandingan", "comparisons"),
    "fair.skipped": ("Tidak dianalisis", "Not analysed"),
    "fair.exposure": ("Paparan soal dan tumpang tindih tes", "Item exposure and test overlap"),
    "fair.max_rate": ("Paparan tertinggi", "Highest exposure"),
    "fair.never": ("tidak pernah dipakai", "never used"),
    "fair.overlap": ("tumpang tindih", "overlap"),
    "fair.formula": ("rumus Chen dkk.", "Chen et al. formula"),
    "fair.information": ("Kurva informasi tes", "Test information curves"),
    "fair.source": (
        "Dihitung dari jawaban yang tercatat; metode dan sumber di docs/psychometrics.md.",
        "Computed from the recorded answers; methods and sources in docs/psychometrics.md.",
    ),
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
