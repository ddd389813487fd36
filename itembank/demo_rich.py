"""The demo bank's rich TIU items: figural reasoning (series, analogies, odd one out)
drawn as SVG by ``itembank.figures``, and numerical items with tables and fractions in
MathML. Original items, generated the same way every time, so their hashes are stable.
"""

from __future__ import annotations

from html import escape

from itembank import figures as fig
from itembank.assets import Asset, check
from itembank.content import OPTION_KEYS, ItemContent, Option, normalised

Bank = tuple[list[ItemContent], dict[str, Asset]]


class _Builder:
    def __init__(self) -> None:
        self.items: list[ItemContent] = []
        self.assets: dict[str, Asset] = {}

    def img(self, svg: bytes, alt: str) -> str:
        asset = check(svg)
        self.assets[asset.sha256] = asset
        return f'<img src="asset:{asset.sha256}" alt="{escape(alt)}">'

    def add(
        self,
        item_id: str,
        topic: str,
        tag: str,
        stem: str,
        options: list[str],
        correct: str,
        params: tuple[float, float, float],
    ) -> None:
        a, b, c = params
        self.items.append(
            normalised(
                ItemContent(
                    item_id=item_id,
                    domain="TIU",
                    topic=topic,
                    stem=stem,
                    options=tuple(Option(k, t) for k, t in zip(OPTION_KEYS, options, strict=False)),
                    correct=correct,
                    model="3pl",
                    a=a,
                    b=b,
                    c=c,
                    tags=(tag,),
                    status="operational",
                    markup=True,
                )
            )
        )


def _frac(num: int, den: int) -> str:
    return f"<math><mfrac><mn>{num}</mn><mn>{den}</mn></mfrac></math>"


def _figural(d: _Builder) -> None:
    corners = ["kiri atas", "kanan atas", "kanan bawah", "kiri bawah"]
    series = d.img(
        fig.picture(*(fig.dot_in_corner(k) for k in range(3)), fig.question_mark()),
        "Deret tiga bingkai persegi: titik hitam di sudut kiri atas, lalu kanan atas, lalu "
        "kanan bawah; bingkai keempat berisi tanda tanya.",
    )
    d.add(
        "TIU-F01",
        "figural",
        "deret_gambar",
        f"<p>Gambar manakah yang melanjutkan deret berikut?</p><p>{series}</p>",
        [
            d.img(fig.picture(fig.dot_in_corner(k)), f"Titik hitam di sudut {corners[k]}")
            for k in (1, 3, 0, 2)
        ]
        + [d.img(fig.picture(fig.square(35) + fig.circle(9, fig.INK)), "Titik hitam di tengah")],
        "B",
        (1.35, -0.8, 0.2),
    )
    names = {3: "segitiga", 4: "segi empat", 5: "segi lima", 6: "segi enam", 7: "segi tujuh"}
    series = d.img(
        fig.picture(*(fig.polygon(n) for n in (3, 4, 5)), fig.question_mark()),
        "Deret: segitiga, segi empat, segi lima, lalu tanda tanya.",
    )
    d.add(
        "TIU-F02",
        "figural",
        "deret_gambar",
        f"<p>Gambar manakah yang melanjutkan deret berikut?</p><p>{series}</p>",
        [d.img(fig.picture(fig.polygon(n)), names[n].capitalize()) for n in (7, 4, 5, 6)]
        + [d.img(fig.picture(fig.circle()), "Lingkaran")],
        "D",
        (1.2, -1.3, 0.2),
    )
    series = d.img(
        fig.picture(*(fig.quarters(k) for k in (1, 2, 3)), fig.question_mark()),
        "Deret lingkaran empat bagian: satu, dua, lalu tiga bagian diarsir; lalu tanda tanya.",
    )
    d.add(
        "TIU-F03",
        "figural",
        "deret_gambar",
        f"<p>Gambar manakah yang melanjutkan deret berikut?</p><p>{series}</p>",
        [
            d.img(fig.picture(fig.quarters(k)), f"Lingkaran dengan {k} dari 4 bagian diarsir")
            for k in (4, 0, 2, 1)
        ]
        + [d.img(fig.picture(fig.circle(34, fig.INK)), "Lingkaran hitam tanpa garis bagi")],
        "A",
        (1.1, -1.6, 0.2),
    )
    analogy = d.img(
        fig.picture(
            fig.circle(34, fig.INK), fig.circle(16), fig.square(30, fig.INK), fig.question_mark()
        ),
        "Lingkaran besar hitam, lingkaran kecil putih, persegi besar hitam, lalu tanda tanya.",
    )
    d.add(
        "TIU-F04",
        "figural",
        "analogi_gambar",
        "<p>Gambar pertama berhubungan dengan gambar kedua seperti gambar ketiga berhubungan "
        f"dengan gambar ...</p><p>{analogy}</p>",
        [
            d.img(fig.picture(fig.square(15, fig.INK)), "Persegi kecil hitam"),
            d.img(fig.picture(fig.square(30)), "Persegi besar putih"),
            d.img(fig.picture(fig.square(15)), "Persegi kecil putih"),
            d.img(fig.picture(fig.circle(16)), "Lingkaran kecil putih"),
            d.img(fig.picture(fig.polygon(3, 18)), "Segitiga kecil putih"),
        ],
        "C",
        (1.5, 0.2, 0.2),
    )
    directions = {0: "atas", 90: "kanan", 180: "bawah", 270: "kiri"}
    analogy = d.img(
        fig.picture(fig.arrow(0), fig.arrow(180), fig.arrow(270), fig.question_mark()),
        "Panah ke atas, panah ke bawah, panah ke kiri, lalu tanda tanya.",
    )
    d.add(
        "TIU-F05",
        "figural",
        "analogi_gambar",
        "<p>Gambar pertama berhubungan dengan gambar kedua seperti gambar ketiga berhubungan "
        f"dengan gambar ...</p><p>{analogy}</p>",
        [d.img(fig.picture(fig.arrow(t)), f"Panah ke {directions[t]}") for t in (270, 0, 180)]
        + [
            d.img(fig.picture(fig.arrow(90)), "Panah ke kanan"),
            d.img(fig.picture(fig.arrow(90, mirrored=True)), "Panah ke kanan, kait terbalik"),
        ],
        "D",
        (1.3, -0.4, 0.2),
    )
    d.add(
        "TIU-F06",
        "figural",
        "ketidaksamaan_gambar",
        "<p>Empat gambar adalah panah yang sama yang diputar. Gambar manakah yang berbeda?</p>",
        [
            d.img(fig.picture(fig.arrow(0)), "Panah ke atas, kait di kiri"),
            d.img(fig.picture(fig.arrow(90)), "Panah ke kanan, kait di atas"),
            d.img(fig.picture(fig.arrow(180)), "Panah ke bawah, kait di kanan"),
            d.img(fig.picture(fig.arrow(270)), "Panah ke kiri, kait di bawah"),
            d.img(
                fig.picture(fig.arrow(45, mirrored=True)), "Panah serong kanan atas, kait di kanan"
            ),
        ],
        "E",
        (1.45, 0.6, 0.2),
    )
    shapes = [
        (fig.circle(30, fig.INK), "Lingkaran hitam"),
        (fig.square(26, fig.INK), "Persegi hitam"),
    ]
    shapes += [(fig.polygon(3, 32, fill=fig.INK), "Segitiga hitam")]
    shapes += [
        (fig.polygon(6, 32), "Segi enam putih"),
        (fig.polygon(5, 32, fill=fig.INK), "Segi lima hitam"),
    ]
    d.add(
        "TIU-F07",
        "figural",
        "ketidaksamaan_gambar",
        "<p>Gambar manakah yang tidak termasuk kelompoknya?</p>",
        [d.img(fig.picture(body), alt) for body, alt in shapes],
        "D",
        (1.0, -1.9, 0.2),
    )


def _numerical(d: _Builder) -> None:
    days = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat"]
    made = [12, 15, 9, 18, 21]
    head = "".join(f'<th scope="col">{x}</th>' for x in days)
    row = "".join(f"<td>{x}</td>" for x in made)
    d.add(
        "TIU-N01",
        "numerik",
        "tabel",
        "<p>Tabel berikut menunjukkan jumlah kursi yang dibuat sebuah bengkel dalam lima hari."
        f'</p><table><caption>Produksi kursi</caption><thead><tr><th scope="col">Hari</th>'
        f'{head}</tr></thead><tbody><tr><th scope="row">Kursi</th>{row}</tr></tbody></table>'
        "<p>Berapa rata-rata kursi yang dibuat per hari?</p>",
        ["13", "14", "15", "16", "17"],
        "C",
        (1.25, -0.6, 0.2),
    )
    d.add(
        "TIU-N02",
        "numerik",
        "pecahan",
        f"<p>Hasil dari {_frac(3, 4)} + {_frac(2, 3)} adalah ...</p>",
        [_frac(5, 7), _frac(5, 12), _frac(6, 7), _frac(17, 12), _frac(13, 12)],
        "D",
        (1.4, -0.2, 0.2),
    )
    d.add(
        "TIU-N03",
        "numerik",
        "pecahan",
        f"<p>{_frac(2, 5)} dari 150 adalah ...</p>",
        ["30", "45", "60", "75", "90"],
        "C",
        (1.1, -1.2, 0.2),
    )
    d.add(
        "TIU-N04",
        "numerik",
        "tabel",
        '<table><caption>Harga beras</caption><thead><tr><th scope="col">Jenis</th>'
        '<th scope="col">Harga per kg</th></tr></thead><tbody><tr><th scope="row">Beras A'
        '</th><td>Rp12.000</td></tr><tr><th scope="row">Beras B</th><td>Rp16.000</td></tr>'
        f"</tbody></table><p>Ibu membeli {_frac(3, 4)} kg beras A dan {_frac(1, 2)} kg beras "
        "B. Berapa yang harus dibayar?</p>",
        ["Rp14.000", "Rp15.000", "Rp16.000", "Rp17.000", "Rp18.000"],
        "D",
        (1.55, 0.4, 0.2),
    )
    d.add(
        "TIU-N05",
        "numerik",
        "pecahan",
        "<p>Nilai <math><mi>x</mi></math> yang memenuhi "
        f"<math><mfrac><mi>x</mi><mn>6</mn></mfrac><mo>=</mo></math> {_frac(10, 15)} "
        "adalah ...</p>",
        ["2", "3", "4", "5", "6"],
        "C",
        (1.2, 0.9, 0.2),
    )


def rich_items() -> Bank:
    """The rich demo items and the pictures they show, by SHA-256."""
    d = _Builder()
    _figural(d)
    _numerical(d)
    return d.items, d.assets
