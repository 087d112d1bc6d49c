package anbao.interop;

import org.bouncycastle.asn1.*;
import org.bouncycastle.asn1.gm.GMObjectIdentifiers;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.ofdrw.gm.ses.v1.SES_ESPictrueInfo;
import org.ofdrw.gm.ses.v1.SES_Header;
import org.ofdrw.gm.ses.v4.SES_CertList;
import org.ofdrw.gm.ses.v4.SES_ESPropertyInfo;
import org.ofdrw.gm.ses.v4.SES_SealInfo;
import org.ofdrw.gm.ses.v4.SESeal;
import org.ofdrw.layout.OFDDoc;
import org.ofdrw.layout.element.Paragraph;
import org.ofdrw.reader.OFDReader;
import org.ofdrw.sign.OFDSigner;
import org.ofdrw.sign.SignMode;
import org.ofdrw.sign.signContainer.SESV1Container;
import org.ofdrw.sign.signContainer.SESV4Container;
import org.ofdrw.sign.stamppos.NormalStampPos;
import org.ofdrw.sign.verify.OFDValidator;
import org.ofdrw.sign.verify.container.SESV1ValidateContainer;
import org.ofdrw.sign.verify.container.SESV4ValidateContainer;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Security;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Date;
import java.util.TimeZone;

/**
 * Command-line harness around ofdrw for Anbao's interop tests (tests/interop/README.md).
 *
 * makedoc OUT.ofd                                   a one-paragraph OFD made by ofdrw-layout
 * makeseal MAKER.key MAKER.pem USER.pem PIC.png OUT.esl  a v4 SESeal made and signed by ofdrw's classes
 * sign IN.ofd OUT.ofd SEAL.esl USER.key USER.pem MODE    SESV4Container seal signature (MODE: whole|continue)
 * verify IN.ofd                                     OFDValidator + SESV4ValidateContainer; exit 0 valid
 * makeseal1 MAKER.key MAKER.pem USER.pem PIC.png OUT.esl  a GM/T 0031 v1 SESeal from ofdrw's v1 classes
 * sign1 IN.ofd OUT.ofd SEAL.esl USER.key USER.pem   SESV1Container seal signature, on Beijing time
 * verify1 IN.ofd                                    OFDValidator + SESV1ValidateContainer; exit 0 valid
 * text IN.ofd                                       the text ofdrw's ContentExtractor reads, a line each
 * render IN.ofd OUT.png                             page 1 drawn by ofdrw-converter's ImageMaker
 */
public final class Interop {
    private Interop() {
    }

    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        switch (args[0]) {
            case "makedoc" -> makeDoc(Paths.get(args[1]));
            case "makeseal" -> makeSeal(args);
            case "sign" -> sign(args);
            case "verify" -> verify(Paths.get(args[1]), new SESV4ValidateContainer());
            case "makeseal1" -> makeSealV1(args);
            case "sign1" -> signV1(args);
            case "verify1" -> verify(Paths.get(args[1]), new SESV1ValidateContainer());
            case "text" -> text(Paths.get(args[1]));
            case "render" -> render(Paths.get(args[1]), Paths.get(args[2]));
            default -> throw new IllegalArgumentException("unknown command " + args[0]);
        }
    }

    static void text(Path in) throws Exception {
        try (OFDReader reader = new OFDReader(in)) {
            for (String line : new org.ofdrw.reader.ContentExtractor(reader).extractAll()) {
                System.out.println(line);
            }
        }
    }

    static void render(Path in, Path out) throws Exception {
        try (OFDReader reader = new OFDReader(in)) {
            java.awt.image.BufferedImage page = new org.ofdrw.converter.ImageMaker(reader, 5).makePage(0);
            javax.imageio.ImageIO.write(page, "png", out.toFile());
        }
    }

    static byte[] pem(Path path) throws Exception {
        String text = Files.readString(path, StandardCharsets.US_ASCII);
        String body = text.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return Base64.getDecoder().decode(body);
    }

    static PrivateKey key(Path path) throws Exception {
        return KeyFactory.getInstance("EC", "BC").generatePrivate(new PKCS8EncodedKeySpec(pem(path)));
    }

    static Certificate cert(Path path) throws Exception {
        return CertificateFactory.getInstance("X.509", "BC")
                .generateCertificate(new ByteArrayInputStream(pem(path)));
    }

    static void makeDoc(Path out) throws Exception {
        try (OFDDoc doc = new OFDDoc(out)) {
            doc.add(new Paragraph("Anbao interop: made by ofdrw"));
        }
    }

    /** certList: the holder's certificate, as SEQUENCE OF OCTET STRING (v1 and v4 alike). */
    static ASN1EncodableVector holderCerts(Path userPem) throws Exception {
        ASN1EncodableVector certs = new ASN1EncodableVector(1);
        certs.add(new DEROctetString(cert(userPem).getEncoded()));
        return certs;
    }

    static void makeSeal(String[] a) throws Exception {
        PrivateKey makerKey = key(Paths.get(a[1]));
        Certificate makerCert = cert(Paths.get(a[2]));
        ASN1EncodableVector certs = holderCerts(Paths.get(a[3]));
        Date now = new Date();
        Date then = new Date(now.getTime() + 365L * 24 * 3600 * 1000);
        SES_ESPropertyInfo property = new SES_ESPropertyInfo()
                .setType(new ASN1Integer(1))
                .setName(new DERUTF8String("ofdrw 互操作测试印章"))
                .setCertListType(SES_ESPropertyInfo.CertListType)
                .setCertList(SES_CertList.getInstance(SES_ESPropertyInfo.CertListType, new DERSequence(certs)))
                .setCreateDate(new ASN1GeneralizedTime(now))
                .setValidStart(new ASN1GeneralizedTime(new Date(now.getTime() - 3600 * 1000)))
                .setValidEnd(new ASN1GeneralizedTime(then));
        SES_ESPictrueInfo picture = new SES_ESPictrueInfo()
                .setType("PNG")
                .setData(Files.readAllBytes(Paths.get(a[4])))
                .setWidth(40)
                .setHeight(40);
        SES_SealInfo info = new SES_SealInfo()
                .setHeader(new SES_Header(SES_Header.V4, new DERIA5String("OFDRW")))
                .setEsID(new DERIA5String("ofdrw0000000001"))
                .setProperty(property)
                .setPicture(picture);
        Signature sg = Signature.getInstance("SM3WithSM2", "BC");
        sg.initSign(makerKey);
        sg.update(info.getEncoded("DER"));
        SESeal seal = new SESeal()
                .seteSealInfo(info)
                .setCert(makerCert)
                .setSignAlgID(GMObjectIdentifiers.sm2sign_with_sm3)
                .setSignedValue(sg.sign());
        Files.write(Paths.get(a[5]), seal.getEncoded("DER"));
    }

    static void sign(String[] a) throws Exception {
        SESeal seal = SESeal.getInstance(Files.readAllBytes(Paths.get(a[3])));
        PrivateKey userKey = key(Paths.get(a[4]));
        Certificate userCert = cert(Paths.get(a[5]));
        try (OFDReader reader = new OFDReader(Paths.get(a[1]));
             OFDSigner signer = new OFDSigner(reader, Paths.get(a[2]))) {
            signer.setSignMode("continue".equals(a[6]) ? SignMode.ContinueSign : SignMode.WholeProtected);
            signer.setSignContainer(new SESV4Container(userKey, seal, userCert));
            signer.addApPos(new NormalStampPos(1, 50, 50, 40, 40));
            signer.exeSign();
        }
    }

    /**
     * GM/T 0031-2014 seal: UTCTime dates, certList of certificates, and signInfo whose signData
     * covers DER(SEQUENCE { esealInfo, cert, signatureAlgorithm }) as that standard defines.
     */
    static void makeSealV1(String[] a) throws Exception {
        PrivateKey makerKey = key(Paths.get(a[1]));
        Certificate makerCert = cert(Paths.get(a[2]));
        ASN1EncodableVector certs = holderCerts(Paths.get(a[3]));
        Date now = new Date();
        org.ofdrw.gm.ses.v1.SES_ESPropertyInfo property = new org.ofdrw.gm.ses.v1.SES_ESPropertyInfo()
                .setType(1)
                .setName("ofdrw 互操作测试印章 v1")
                .setCertList(new DERSequence(certs))
                .setCreateDate(new DERUTCTime(now))
                .setValidStart(new DERUTCTime(new Date(now.getTime() - 3600 * 1000)))
                .setValidEnd(new DERUTCTime(new Date(now.getTime() + 365L * 24 * 3600 * 1000)));
        SES_ESPictrueInfo picture = new SES_ESPictrueInfo()
                .setType("PNG")
                .setData(Files.readAllBytes(Paths.get(a[4])))
                .setWidth(40)
                .setHeight(40);
        org.ofdrw.gm.ses.v1.SES_SealInfo info = new org.ofdrw.gm.ses.v1.SES_SealInfo()
                .setHeader(new SES_Header(new ASN1Integer(1), new DERIA5String("OFDRW")))
                .setEsID("ofdrwv100000001")
                .setProperty(property)
                .setPicture(picture);
        DEROctetString certOctets = new DEROctetString(makerCert.getEncoded());
        ASN1EncodableVector tbs = new ASN1EncodableVector(3);
        tbs.add(info);
        tbs.add(certOctets);
        tbs.add(GMObjectIdentifiers.sm2sign_with_sm3);
        Signature sg = Signature.getInstance("SM3WithSM2", "BC");
        sg.initSign(makerKey);
        sg.update(new DERSequence(tbs).getEncoded("DER"));
        org.ofdrw.gm.ses.v1.SES_SignInfo signInfo = new org.ofdrw.gm.ses.v1.SES_SignInfo()
                .setCert(certOctets)
                .setSignatureAlgorithm(GMObjectIdentifiers.sm2sign_with_sm3)
                .setSignData(sg.sign());
        Files.write(Paths.get(a[5]), new org.ofdrw.gm.ses.v1.SESeal(info, signInfo).getEncoded("DER"));
    }

    /** ofdrw's v1 container writes the JVM's local time as text: run it as a signer in China would. */
    static void signV1(String[] a) throws Exception {
        TimeZone.setDefault(TimeZone.getTimeZone("Asia/Shanghai"));
        org.ofdrw.gm.ses.v1.SESeal seal = org.ofdrw.gm.ses.v1.SESeal.getInstance(Files.readAllBytes(Paths.get(a[3])));
        try (OFDReader reader = new OFDReader(Paths.get(a[1]));
             OFDSigner signer = new OFDSigner(reader, Paths.get(a[2]))) {
            signer.setSignMode(SignMode.ContinueSign);
            signer.setSignContainer(new SESV1Container(key(Paths.get(a[4])), seal, cert(Paths.get(a[5]))));
            signer.addApPos(new NormalStampPos(1, 50, 50, 40, 40));
            signer.exeSign();
        }
    }

    static void verify(Path in, org.ofdrw.sign.verify.SignedDataValidateContainer container) throws Exception {
        try (OFDReader reader = new OFDReader(in);
             OFDValidator validator = new OFDValidator(reader)) {
            validator.setValidator(container);
            validator.exeValidate();
            System.out.println("VALID");
        } catch (Exception e) {
            System.out.println("INVALID " + e);
            System.exit(1);
        }
    }
}
